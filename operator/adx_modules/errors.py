"""The service's error classes: a handful, mapped to Kopf and Temporal at the boundary.

Why it exists: handlers, workflows and the CLI decide what to do with a failure by its class
(retry later, fail for good, tell the user), so the classes live in one place::

    AdxError                 anything the service raises on purpose
    ├── SettingsError        a setting is wrong; the process stops at start-up
    └── DevStackError        the local stack (devstack) could not be built or started

Failures inside the lifecycle are Temporal ``ApplicationError``s whose ``type`` is the condition
reason (``non_retryable`` for bad input); Kopf handlers raise ``kopf.TemporaryError`` when the
world is briefly unavailable. Those are the boundaries' own classes, so none is wrapped here.
"""

from __future__ import annotations


class AdxError(Exception):
    """Base of every error the service raises on purpose."""


class SettingsError(AdxError):
    """A setting is missing or invalid; the message names it."""


class DevStackError(AdxError):
    """The local stack could not be built or started; the message says which part and why."""
