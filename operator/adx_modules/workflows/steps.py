"""What every lifecycle workflow does the same way: activity options, reports, audit, errors.

Why it exists: the install, update and uninstall workflows are sequences of the same kinds of
step. Each step is reported on the CR (phase, step, progress) and in the audit trail, runs its
activity with one retry policy (transient errors back off; bad input fails at once), and turns
a failure into a condition reason and a sentence. Deterministic: no I/O, no clock, no env.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api.lifecycle import (
        Action,
        Activities,
        AuditEntry,
        ConditionChange,
        InstallationRecord,
        InstallationsRequest,
        LifecycleRequest,
        StatusReport,
    )

T = TypeVar("T")

# bad input: never retried (the activities raise these types as non-retryable as well)
NON_RETRYABLE = [
    c.MODULE_NOT_FOUND,
    c.NO_MATCHING_VERSION,
    c.INVALID_CONFIGURATION,
    c.INVALID_CONSTRAINT,
    c.INVALID_SPEC,
    c.ISOLATION_DISABLED,
    "HealthCheckFailed",
    "IsolationUnavailable",
    "InvalidModule",
    "DependencyConflict",
    "DependencyCycle",
    "DependencyTooComplex",
    "DependencyFailed",
    "BreaksDependents",
]
RESOLUTION_FAILURES = (
    c.MODULE_NOT_FOUND,
    c.NO_MATCHING_VERSION,
    c.INVALID_CONSTRAINT,
    "DependencyConflict",
    "DependencyCycle",
    "DependencyTooComplex",
    "BreaksDependents",
)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=12,  # about five minutes of a world that is down, then a human is asked
    non_retryable_error_types=NON_RETRYABLE,
)
QUICK = timedelta(seconds=20)


def explain(error: BaseException) -> tuple[str, str]:
    """(reason, message) for a failed step: the innermost application error says why."""
    cause: BaseException | None = error
    while isinstance(cause, FailureError):
        if isinstance(cause, ApplicationError) and cause.type:
            reason = cause.type if cause.type[:1].isupper() else "StepFailed"
            return reason, cause.message
        cause = cause.cause
    return "StepFailed", str(error)


Condition = tuple[str, str, str, str]  # (type, status, reason, message)
Audit = tuple[str, str] | tuple[str, str, str]  # (step, outcome[, detail])


class Steps:
    """One workflow's way of running, reporting and recording its steps."""

    def __init__(self, request: LifecycleRequest, action: Action) -> None:
        self.request = request
        self.ref = request.ref
        self.action = action
        self.workflow_id = workflow.info().workflow_id
        self.created_dependencies: list[str] = []

    async def run(
        self,
        name: str,
        argument: Any,
        result_type: type[T] | None = None,
        *,
        limit: timedelta = QUICK,
        heartbeat: timedelta | None = None,
    ) -> T:
        """A long activity (it heartbeats): it finishes before a cancellation is honoured."""
        result: T = await workflow.execute_activity(
            name,
            argument,
            result_type=result_type,
            start_to_close_timeout=limit,
            heartbeat_timeout=heartbeat,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return result

    async def quick(self, name: str, argument: Any, result_type: type[T] | None = None) -> T:
        """A short activity run as a local activity: no round trips through the Temporal
        server to schedule it (a crash simply runs it again; every activity is idempotent)."""
        result: T = await workflow.execute_local_activity(
            name,
            argument,
            result_type=result_type,
            start_to_close_timeout=QUICK,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return result

    async def report(
        self,
        step: str,
        progress: int,
        *,
        phase: str | None = None,
        rollup: Literal["ready", "reconciling", "stalled"] | None = None,
        reason: str = "",
        message: str = "",
        conditions: Sequence[Condition] = (),
        audit: Sequence[Audit] = (),
        record: InstallationRecord | None = None,
        **extra: Any,
    ) -> None:
        """Record the step (audit, and the installation's row) and show it on the CR."""
        report = StatusReport(
            ref=self.ref,
            workflow_id=self.workflow_id,
            action=self.action,
            actor=self.request.actor,
            audit=[
                AuditEntry(step=a[0], outcome=a[1], detail=a[2] if len(a) > 2 else "")
                for a in audit
            ],
            record=record,
            step=step,
            progress=progress,
            phase=phase,
            rollup=rollup,
            reason=reason,
            message=message,
            conditions=[
                ConditionChange(type=t, status=s, reason=r, message=m) for t, s, r, m in conditions
            ],
            **extra,
        )
        await self.quick(Activities.REPORT, report, bool)

    def record(self, phase: str, **fields: Any) -> InstallationRecord:
        """The installation's row as it is after this workflow (for ``report(record=...)``)."""
        return InstallationRecord(
            ref=self.ref,
            module_id=self.request.spec.module,
            phase=phase,
            workflow_id=self.workflow_id,
            **fields,
        )

    async def collect_dependencies(self, names: Sequence[str]) -> list[str]:
        """Remove dependency installations nothing else requires (their uninstall runs)."""
        if not names:
            return []
        removed: list[str] = await self.quick(
            Activities.COLLECT_DEPENDENCIES,
            InstallationsRequest(ref=self.ref, names=list(names)),
            list[str],
        )
        return removed

    async def supersede(self) -> None:
        """Wait until the previous generation's workflow has closed (cancelling it)."""
        previous = self.request.previous_workflow_id
        if previous and previous != self.workflow_id:
            await self.run(
                Activities.SUPERSEDE,
                previous,
                str,
                limit=timedelta(minutes=5),
                heartbeat=timedelta(seconds=10),
            )

    async def wait_for_approval(self, missing: Sequence[str]) -> None:
        """The permission gate: stop here until the object is edited (a newer generation then
        supersedes this workflow). Waiting costs no history: there is no polling."""
        listed = ", ".join(missing)
        await self.report(
            "approve-permissions",
            20,
            phase="AwaitingApproval",
            rollup="stalled",
            reason=c.BLOCKED,
            message=f"waiting for approval of {listed}",
            conditions=[
                (
                    c.PERMISSIONS_APPROVED,
                    "False",
                    c.BLOCKED,
                    f"approve in spec.approvedPermissions: {listed}",
                )
            ],
            audit=[("approve-permissions", "waiting", listed)],
        )
        await workflow.wait_condition(lambda: False)


def failure_conditions(step: str, reason: str, message: str) -> list[tuple[str, str, str, str]]:
    """The domain conditions a failed step sets, besides Stalled."""
    failed = f"step {step} failed: {message}"
    found = [(c.INSTALLED, "False", reason, failed)]
    if reason in RESOLUTION_FAILURES:
        found.append((c.RESOLVED, "False", reason, message))
    if reason in (c.INVALID_SPEC, c.INVALID_CONFIGURATION, c.ISOLATION_DISABLED):
        found.append((c.ACCEPTED, "False", reason, message))
    if reason == "HealthCheckFailed":
        found.append((c.HEALTHY, "False", reason, message))
    return found
