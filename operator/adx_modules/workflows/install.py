"""InstallModuleWorkflow: from a new ModuleInstallation to a running, locked-down module.

Why it exists: installing is a sequence of steps that must all happen or none: resolve ->
permission gate -> security gate -> provision -> wait until healthy -> activate -> record. A
failure removes everything the install created, in reverse order, and says which step failed
and why (``Stalled``). Superseded by a newer generation, it stops without undoing anything:
the successor converges the same objects.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

from adx_modules.workflows.rollout import (
    activate_and_record,
    deploy,
    report_success,
    resolve_and_gate,
)
from adx_modules.workflows.steps import QUICK, Steps, explain, failure_conditions

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api.lifecycle import Activities, InstallationRecord, LifecycleRequest

FIRST_REVISION = 1


@workflow.defn(name="InstallModuleWorkflow")
class InstallModuleWorkflow:
    """Install one ModuleInstallation at one generation."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        steps = Steps(request, "install")
        await steps.supersede()
        step, provisioned = "resolve", False
        try:
            await steps.report(
                "resolve",
                5,
                phase="Resolving",
                rollup="reconciling",
                reason=c.PROGRESSING,
                message="resolving the module version",
            )
            resolution = await resolve_and_gate(steps, request)
            step, provisioned = "provision", True
            await steps.report(
                "provision",
                40,
                phase="Installing",
                rollup="reconciling",
                reason=c.PROGRESSING,
                message=f"installing {resolution.module.module_id} {resolution.module.version}",
            )
            result = await deploy(steps, request, resolution, FIRST_REVISION)
            step = "activate"
            phase = await activate_and_record(steps, request, resolution, FIRST_REVISION)
        except asyncio.CancelledError:
            raise  # superseded by a newer generation, which takes over
        except FailureError as error:
            raise await self._fail(steps, step, provisioned, error) from error
        version = resolution.module.version
        await report_success(
            steps,
            resolution,
            FIRST_REVISION,
            result,
            phase=phase,
            message=f"{resolution.module.module_id} {version} is {phase.lower()}",
        )
        await steps.audit("install", "succeeded", f"{version} {phase}")
        return phase

    async def _fail(
        self, steps: Steps, step: str, provisioned: bool, error: FailureError
    ) -> ApplicationError:
        """Undo what was created, say why; the error fails the workflow (never retried)."""
        reason, message = explain(error)
        undone = ""
        if provisioned:
            removed = await steps.run(
                Activities.DEPROVISION, steps.ref, list[str], limit=QUICK * 10, heartbeat=QUICK
            )
            undone = "; removed what it had created" + (
                f" ({', '.join(removed)})" if removed else ""
            )
            await steps.audit(step, "compensated", ", ".join(removed))
        spec = steps.request.spec
        await steps.run(
            Activities.RECORD_INSTALLATION,
            InstallationRecord(
                ref=steps.ref, module_id=spec.module, phase="Failed", workflow_id=steps.workflow_id
            ),
        )
        await steps.report(
            step,
            100,
            phase="Failed",
            rollup="stalled",
            reason=reason,
            message=f"step {step} failed: {message}{undone}; edit the spec to retry",
            conditions=failure_conditions(step, reason, message),
            failure=True,
            done=True,
        )
        await steps.audit(step, "failed", message)
        return ApplicationError(f"step {step} failed: {message}", type=reason, non_retryable=True)
