"""InstallModuleWorkflow: from a new ModuleInstallation to a running, locked-down module.

Why it exists: installing is a sequence of steps that must all happen or none: resolve ->
permission gate -> security gate -> provision -> wait until healthy -> activate -> record. A
failure removes everything the install created, in reverse order, and says which step failed
and why (``Stalled``). Superseded by a newer generation, it stops without undoing anything:
the successor converges the same objects.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

from adx_modules.installations.workflows.rollout import (
    activate,
    deploy,
    report_success,
    resolve_and_gate,
)
from adx_modules.installations.workflows.runner import (
    QUICK,
    StepRunner,
    failure_conditions,
)

with workflow.unsafe.imports_passed_through():
    from adx_modules.core.explain import explain
    from adx_modules.core.workflow_metrics import count_installation
    from adx_modules.installations.contract import LifecycleRequest
    from adx_modules.installations.progress import ACTIVATE, DONE, PROVISION, RESOLVE, Step
    from adx_modules.sandboxes.contract import SandboxActivities, SandboxRequest

FIRST_REVISION = 1


@workflow.defn(name="InstallModuleWorkflow")
class InstallModuleWorkflow:
    """Install one ModuleInstallation at one generation."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        steps = StepRunner(request, "install")
        await steps.supersede()
        step, provisioned = RESOLVE.name, None
        try:
            resolution = await resolve_and_gate(
                steps, request, next_step=PROVISION, phase="Installing"
            )
            step, provisioned = PROVISION.name, resolution.isolation
            result = await deploy(steps, request, resolution, FIRST_REVISION)
            step = ACTIVATE.name
            phase = await activate(steps, request, resolution)
        except asyncio.CancelledError:
            raise  # superseded by a newer generation, which takes over
        except FailureError as error:
            count_installation(request.spec.module, "failed")
            raise await self._fail(steps, step, provisioned, error) from error
        module = resolution.module
        await report_success(
            steps,
            resolution,
            FIRST_REVISION,
            result,
            phase=phase,
            message=f"{module.module_id} {module.version} is {phase.lower()}",
        )
        count_installation(request.spec.module, "succeeded")
        return phase

    async def _fail(
        self, steps: StepRunner, step: str, provisioned: str | None, error: FailureError
    ) -> ApplicationError:
        """Undo what was created (``provisioned``: in which isolation), say why; the error
        fails the workflow (never retried)."""
        reason, message = explain(error)
        undone, audit = "", [(step, "failed", message)]
        if provisioned:
            removed: list[str] = await steps.run(
                SandboxActivities.DEPROVISION,
                SandboxRequest(ref=steps.ref, isolation=provisioned),
                list[str],
                limit=QUICK * 10,
                heartbeat=timedelta(seconds=15),
            )
            undone = (
                f"; removed what it had created ({', '.join(removed)})"
                if removed
                else "; nothing had been created"
            )
            audit.append((step, "compensated", ", ".join(removed)))
        collected = await steps.collect_dependencies(steps.created_dependencies)
        if collected:
            undone += f"; removed the dependencies it had installed ({', '.join(collected)})"
        await steps.report(
            Step(step, DONE.progress),
            phase="Failed",
            rollup="stalled",
            reason=reason,
            message=f"step {step} failed: {message}{undone}; edit the spec to retry",
            conditions=failure_conditions(step, reason, message),
            failure=True,
            done=True,
            record=steps.record("Failed"),
            audit=audit,
        )
        return ApplicationError(f"step {step} failed: {message}", type=reason, non_retryable=True)
