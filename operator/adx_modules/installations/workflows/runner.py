"""The step runner: how every lifecycle workflow runs, reports and records its steps.

Why it exists: the install, update and uninstall workflows are sequences of the same kinds of
step. Each step is reported on the CR (phase, step, progress) and in the audit trail, runs its
activity with one retry policy (transient errors back off; permanent ones, as the taxonomy in
:mod:`adx_modules.api.reasons` says, fail at once), and turns a failure into a condition reason
and a sentence. Deterministic: no I/O, no clock, no env.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api import reasons as r
    from adx_modules.installations.contract import (
        Action,
        Activities,
        AuditEntry,
        ConditionChange,
        InstallationRecord,
        InstallationsRequest,
        LifecycleRequest,
        StatusReport,
    )
    from adx_modules.installations.messages import (
        Condition,
        awaiting_approval,
        entitled,
        entitlement_required,
        permissions_missing,
    )
    from adx_modules.installations.progress import APPROVE, PURCHASE, Step
    from adx_modules.marketplace.contract import (
        Entitlement,
        EntitlementQuery,
        PurchaseActivities,
    )

T = TypeVar("T")

# never retried: every permanent reason of the taxonomy (the activities' boundary marks them
# non-retryable as well)
NON_RETRYABLE = r.permanent()
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=12,  # about five minutes of a world that is down, then a human is asked
    non_retryable_error_types=NON_RETRYABLE,
)
QUICK = timedelta(seconds=20)


Audit = tuple[str, str] | tuple[str, str, str]  # (step, outcome[, detail])


class StepRunner:
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
        step: Step,
        *,
        phase: str | None = None,
        rollup: Literal["ready", "reconciling", "stalled"] | None = None,
        reason: str = "",
        message: str = "",
        conditions: Sequence[Condition] = (),
        audit: Sequence[Audit] = (),
        record: InstallationRecord | None = None,
        fields: dict[str, Any] | None = None,
        done: bool = False,
        failure: bool | None = None,
        revision: dict[str, Any] | None = None,
        clear: Sequence[str] = (),
    ) -> None:
        """Record the step (audit, and the installation's row) and show it on the CR. Every
        field of the report is named here: a misspelt keyword is a type error, not a no-op."""
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
            step=step.name,
            progress=step.progress,
            phase=phase,
            rollup=rollup,
            reason=reason,
            message=message,
            conditions=[
                ConditionChange(type=t, status=s, reason=why, message=m)
                for t, s, why, m in conditions
            ],
            fields=fields or {},
            done=done,
            failure=failure,
            revision=revision,
            clear=list(clear),
        )
        await self.quick(Activities.REPORT, report, bool)

    def record(
        self,
        phase: str,
        *,
        version: str | None = None,
        isolation: str | None = None,
        revision: int | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> InstallationRecord:
        """The installation's row as it is after this workflow (for ``report(record=...)``)."""
        return InstallationRecord(
            ref=self.ref,
            module_id=self.request.spec.module,
            phase=phase,
            workflow_id=self.workflow_id,
            version=version,
            isolation=isolation,
            revision=revision,
            configuration=configuration,
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
        """Wait until the previous generation's workflow has closed (cancelling it); the recent
        generations' the request names first (the newest first: cancelled while it waits for
        an older one, a workflow never goes on to touch the sandbox)."""
        closing = [self.request.previous_workflow_id]
        if self.request.recent_workflow_ids and workflow.patched("supersede-recent"):
            closing[:0] = self.request.recent_workflow_ids
        for other in closing:
            if other and other != self.workflow_id:
                await self.run(
                    Activities.SUPERSEDE,
                    other,
                    str,
                    limit=timedelta(minutes=5),
                    heartbeat=timedelta(seconds=10),
                )

    async def wait_for_approval(self, missing: Sequence[str]) -> None:
        """The permission gate: stop here until the object is edited (a newer generation then
        supersedes this workflow). Waiting costs no history: there is no polling."""
        await self.report(
            APPROVE,
            phase="AwaitingApproval",
            rollup="stalled",
            reason=r.BLOCKED,
            message=awaiting_approval(missing),
            conditions=[permissions_missing(missing)],
            audit=[(APPROVE.name, "waiting", ", ".join(missing))],
        )
        await workflow.wait_condition(lambda: False)

    async def entitlement_gate(self, module_id: str) -> Condition:
        """A paid module needs the tenant's entitlement: without one, say what to buy and wait
        (no polling) for the purchase workflow's signal, then check again. The Entitled
        condition it returns says why the install may go on."""
        query = EntitlementQuery(tenant=self.ref.namespace, module_id=module_id)
        check = await self.quick(PurchaseActivities.CHECK_ENTITLEMENT, query, Entitlement)
        if check.allowed:
            return entitled(check.listing, check.paid)
        signals: list[bool] = []
        workflow.set_signal_handler(
            PurchaseActivities.ENTITLEMENT_SIGNAL, lambda: signals.append(True)
        )
        message = entitlement_required(self.ref.namespace, module_id, check.listing, check.price)
        await self.report(
            PURCHASE,
            phase="AwaitingPurchase",
            rollup="stalled",
            reason=r.ENTITLEMENT_REQUIRED,
            message=message,
            conditions=[(c.ENTITLED, "False", r.ENTITLEMENT_REQUIRED, message)],
            audit=[(PURCHASE.name, "waiting", f"{check.listing} ({check.price})")],
        )
        # checked once more after the report: a purchase settled before the report was written
        # found no installation waiting to signal
        check = await self.quick(PurchaseActivities.CHECK_ENTITLEMENT, query, Entitlement)
        while not check.allowed:
            await workflow.wait_condition(lambda: bool(signals))
            signals.clear()
            check = await self.quick(PurchaseActivities.CHECK_ENTITLEMENT, query, Entitlement)
        return entitled(check.listing, check.paid)


def failure_conditions(step: str, reason: str, message: str) -> list[Condition]:
    """The domain conditions a failed step sets, besides Stalled: Installed=False, and the
    condition the taxonomy names for the reason (Resolved, Accepted, Healthy, ...)."""
    found: list[Condition] = [(c.INSTALLED, "False", reason, f"step {step} failed: {message}")]
    condition = r.describe(reason).condition
    if condition and condition != c.INSTALLED:
        found.append((condition, "False", reason, message))
    return found
