"""The service's error classes: a handful, mapped to Kopf and Temporal at the boundary.

Why it exists: handlers, workflows and the CLI decide what to do with a failure by its class
(retry later, fail for good, tell the user), so the classes live in one place::

    AdxError                    anything the service raises on purpose
    ├── SettingsError           a setting is wrong; the process stops at start-up
    ├── DevStackError           the local stack (devstack) could not be built or started
    └── StepError               a lifecycle step failed for a reason of api.reasons (its kind
                                says whether it is retried); mapped once to Temporal's
                                ApplicationError by core.failures

    clients.errors.ClientError  a call to a service did not succeed (raised by clients only)
    ├── NotFoundError           404
    ├── ConflictError           409             ┐
    ├── ForbiddenError          401, 403        ├ permanent: KubernetesRefused, never retried
    ├── InvalidError            400, 422        ┘
    └── UnavailableError        429, 5xx, timeouts: ServiceUnavailable, retried with backoff

Kopf handlers raise ``kopf.TemporaryError`` when the world is briefly unavailable; that is the
framework's own class, so it is not wrapped here.
"""

from __future__ import annotations

from adx_modules.api.reasons import describe


class AdxError(Exception):
    """Base of every error the service raises on purpose."""


class SettingsError(AdxError):
    """A setting is missing or invalid; the message names it."""


class DevStackError(AdxError):
    """The local stack could not be built or started; the message says which part and why."""


class StepError(AdxError):
    """A step failed for ``reason`` (a name from :mod:`adx_modules.api.reasons`); the message is
    a sentence for people that names the field or object at fault."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = describe(reason)  # an unknown reason is a bug: KeyError names it
        self.message = message
        super().__init__(message)
