"""UpdateModuleWorkflow: a change of version or configuration, rolled back if it goes wrong.

Why it exists: an update must never leave a tenant without its module. It checks the target
(exists, Available, configuration valid under the new schema, new permissions approved) before
touching anything, keeps the running revision for rollback, rolls out with no unavailability
(the old pod serves until the new one is ready), and if the new revision does not become
healthy it re-applies the previous one and says so (``Remediated``, ``RollbackSucceeded``).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

from adx_modules.installations.workflows.rollout import (
    activate,
    deploy,
    report_success,
    resolve_and_gate,
)
from adx_modules.installations.workflows.runner import StepRunner, failure_conditions

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api import reasons as r
    from adx_modules.core.explain import explain
    from adx_modules.core.workflow_metrics import ROLLED_BACK
    from adx_modules.installations.contract import (
        Activities,
        BackupRequest,
        LifecycleRequest,
        RevisionInfo,
    )
    from adx_modules.installations.messages import Condition
    from adx_modules.installations.progress import ACTIVATE, DONE, RESOLVE, ROLLOUT, Step


@workflow.defn(name="UpdateModuleWorkflow")
class UpdateModuleWorkflow:
    """Update one ModuleInstallation to its current generation."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        steps = StepRunner(request, "update")
        await steps.supersede()
        previous: RevisionInfo | None = await steps.quick(
            Activities.LAST_REVISION, steps.ref, RevisionInfo
        )
        if previous is None:  # nothing runs yet (an earlier install failed): install instead
            from adx_modules.installations.workflows.install import InstallModuleWorkflow  # noqa: PLC0415

            return await InstallModuleWorkflow().run(request)
        step, rolling = RESOLVE.name, False
        try:
            kept = f"revision {previous.revision} ({previous.version}) kept for rollback"
            policy = request.spec.update
            if policy and policy.backup_data and workflow.patched("backup-before-update"):
                await steps.quick(
                    Activities.BACKUP, BackupRequest(ref=steps.ref, workflow_id=steps.workflow_id)
                )
                kept += ", its data backed up"
            resolution = await resolve_and_gate(
                steps,
                request,
                next_step=ROLLOUT,
                phase="Updating",
                audit=(("backup", "succeeded", kept),),
            )
            step, rolling = ROLLOUT.name, True
            revision = previous.revision + 1
            result = await deploy(steps, request, resolution, revision)
            step = ACTIVATE.name
            phase = await activate(steps, request, resolution)
        except asyncio.CancelledError:
            raise
        except FailureError as error:
            raise await self._fail(steps, step, rolling, previous, error) from error
        module = resolution.module
        await report_success(
            steps,
            resolution,
            revision,
            result,
            phase=phase,
            message=f"updated to {module.module_id} {module.version} (revision {revision})",
        )
        return phase

    async def _fail(
        self,
        steps: StepRunner,
        step: str,
        rolling: bool,
        previous: RevisionInfo,
        error: FailureError,
    ) -> ApplicationError:
        """Before the rollout nothing changed; after it, roll back when the policy allows."""
        reason, message = explain(error)
        failed = f"step {step} failed: {message}"
        await steps.collect_dependencies(steps.created_dependencies)
        policy = steps.request.spec.update
        remediation: list[Condition] = []
        phase: str = "Active"
        installed: str | None = previous.version
        audit = [(step, "failed", message)]
        if rolling and (policy is None or policy.auto_rollback):
            remediation, phase, installed = await self._roll_back(steps, previous, failed)
            audit.append(("rollback", "succeeded" if installed else "failed", remediation[0][3]))
        elif rolling:
            phase, installed = "Failed", None
        still = (
            f"revision {previous.revision} ({previous.version}) still runs"
            if phase == "Active"
            else "the installation needs attention"
        )
        await steps.report(
            Step(step, DONE.progress),
            phase=phase,
            rollup="stalled",
            reason=reason,
            message=f"{failed}; {still}; edit the spec to retry",
            conditions=[*failure_conditions(step, reason, message), *remediation],
            fields={"installed_version": installed},
            failure=True,
            done=True,
            record=steps.record("Failed") if phase == "Failed" else None,
            audit=audit,
        )
        details = (ROLLED_BACK,) if phase == "Active" and rolling else ()
        return ApplicationError(failed, *details, type=reason, non_retryable=True)

    async def _roll_back(
        self, steps: StepRunner, previous: RevisionInfo, failed: str
    ) -> tuple[list[Condition], str, str | None]:
        """Re-apply the previous revision; (conditions, phase, installed version)."""
        spec = steps.request.spec.model_copy(
            update={"version": f"=={previous.version}", "configuration": previous.configuration}
        )
        back = steps.request.model_copy(update={"spec": spec})
        try:
            resolution = await resolve_and_gate(
                steps, back, next_step=ROLLOUT, phase="RollingBack", label="rollback-"
            )
            await deploy(steps, back, resolution, previous.revision)
        except FailureError as error:
            _, why = explain(error)
            return (
                [(c.REMEDIATED, "False", r.ROLLBACK_FAILED, f"rollback failed: {why}")],
                "Failed",
                None,
            )
        restored = f"rolled back to revision {previous.revision} ({previous.version})"
        return [(c.REMEDIATED, "True", r.ROLLBACK_SUCCEEDED, restored)], "Active", previous.version
