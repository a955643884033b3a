"""The service's error classes: a handful, mapped to Kopf and Temporal at the boundary.

Why it exists: handlers, workflows and the CLI decide what to do with a failure by its class
(retry later, fail for good, tell the user), so the classes live in one place::

    AdxError                 anything the service raises on purpose
    ├── SettingsError        a setting is wrong; the process stops at start-up
    ├── InvalidInputError    bad input (a CR, a manifest, a package, a request); never retried
    ├── TransientError       the world is briefly unavailable; retried with backoff
    └── DevStackError        the local stack (devstack) could not be built or started
"""

from __future__ import annotations


class AdxError(Exception):
    """Base of every error the service raises on purpose."""


class SettingsError(AdxError):
    """A setting is missing or invalid; the message names it."""


class InvalidInputError(AdxError):
    """Input that will never become valid by retrying; the message names the field."""


class TransientError(AdxError):
    """A dependency is briefly unavailable; worth retrying after ``delay`` seconds."""

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class DevStackError(AdxError):
    """The local stack could not be built or started; the message says which part and why."""
