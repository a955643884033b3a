"""The errors an SDK call raises, one per way the runner can refuse or fail it.

Why it exists: a module decides what to do about a refusal (retry later when rate limited, tell
its caller when denied), so each reason is its own class, and the message names what was
missing (``storage:write:cache/*``) so the author can fix the manifest.
"""

from __future__ import annotations


class SdkError(Exception):
    """An SDK call that did not do what was asked; ``code`` is stable, the message explains."""

    code = "Failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDeniedError(SdkError):
    """The installation's approved permissions do not allow the call."""

    code = "PermissionDenied"


class QuotaExceededError(SdkError):
    """A storage write past the installation's quota."""

    code = "QuotaExceeded"


class RateLimitedError(SdkError):
    """Too many calls of this kind: try again later."""

    code = "RateLimited"


class BadInputError(SdkError):
    """The call's arguments are malformed (an empty key, a body that is not JSON)."""

    code = "BadInput"


ERRORS: dict[str, type[SdkError]] = {
    cls.code: cls
    for cls in (
        SdkError,
        PermissionDeniedError,
        QuotaExceededError,
        RateLimitedError,
        BadInputError,
    )
}


def error_of(code: str, message: str) -> SdkError:
    """The exception for an error the other side answered (its code kept, known or not)."""
    known = ERRORS.get(code)
    if known is not None:
        return known(message)
    error = SdkError(message)
    error.code = code
    return error
