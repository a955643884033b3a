"""Why a workflow step failed, as a reason of the taxonomy and a sentence.

Why it exists: every workflow (the lifecycle's, the scan's) turns an activity's failure into a
condition reason; the activity boundary (:mod:`adx_modules.core.failures`) put the reason in the
error's type, and this reads it back the same way everywhere. Deterministic: workflows call it.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, FailureError, TimeoutError

from adx_modules.api import reasons as r


def explain(error: BaseException) -> tuple[str, str]:
    """(reason, message) for a failed step: the innermost application error says why. A type
    the taxonomy does not know (which the activity boundary never produces) is StepFailed, and
    a timeout is ServiceUnavailable: no foreign text becomes a reason."""
    cause: BaseException | None = error
    while isinstance(cause, FailureError):
        if isinstance(cause, ApplicationError) and cause.type:
            reason = cause.type if r.known(cause.type) else r.STEP_FAILED
            return reason, cause.message
        if isinstance(cause, TimeoutError):
            return r.SERVICE_UNAVAILABLE, "the step did not finish in time"
        cause = cause.cause
    return r.STEP_FAILED, "the step failed unexpectedly"
