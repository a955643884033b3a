"""The activity boundary: every failure leaves an activity as one ApplicationError, mapped here.

Why it exists: an activity may fail on purpose (a :class:`StepError` with a reason of the
taxonomy), because a service refused or did not answer (the clients' errors), or by a bug.
Temporal decides on retries by the error's ``type`` and ``non_retryable`` flag, and the workflow
turns the type into a condition reason; so the mapping is done once, by a worker interceptor,
and the activities raise only their own classes. No transport text passes: a client error's
message is already one sentence, and an unexpected exception is reported by its class and
message, cut short.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from adx_modules.api import reasons as r
from adx_modules.clients.errors import PERMANENT, ClientError, UnavailableError
from adx_modules.core.errors import StepError

MAX_MESSAGE = 1000


def as_application_error(error: Exception) -> ApplicationError:
    """The ApplicationError that stands for ``error`` (already one: returned as it is)."""
    if isinstance(error, ApplicationError):
        return error
    if isinstance(error, StepError):
        reason = error.reason
        return ApplicationError(
            error.message[:MAX_MESSAGE], type=reason.name, non_retryable=not reason.retryable
        )
    if isinstance(error, PERMANENT):
        return ApplicationError(
            str(error)[:MAX_MESSAGE], type=r.KUBERNETES_REFUSED, non_retryable=True
        )
    if isinstance(error, UnavailableError | ClientError | OSError | TimeoutError):
        return ApplicationError(
            str(error)[:MAX_MESSAGE] or type(error).__name__, type=r.SERVICE_UNAVAILABLE
        )
    text = f"{type(error).__name__}: {error}"[:MAX_MESSAGE]
    return ApplicationError(text, type=r.STEP_FAILED)


class _Boundary(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except ApplicationError:
            raise
        except Exception as error:
            raise as_application_error(error) from error


class FailureBoundary(Interceptor):
    """A worker interceptor that maps every activity failure to an ApplicationError."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Boundary(next)
