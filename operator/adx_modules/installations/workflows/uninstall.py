"""UninstallModuleWorkflow: what runs behind the finalizer when an installation is deleted.

Why it exists: deleting an installation must leave nothing behind and keep what the tenant
asked to keep: deactivate, back up the module's data if asked, delete what was provisioned and
wait until it is gone (the module's own data with it, unless ``cleanupData: false`` keeps it for
the next installation of the name), mark the record uninstalled. It always ends, so the
finalizer always comes off; if cleanup kept failing it says so (owner references let the
garbage collector finish the job once the installation is gone).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from adx_modules.installations.workflows.runner import Audit, StepRunner

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import reasons as r
    from adx_modules.core.explain import explain
    from adx_modules.installations.contract import Activities, BackupRequest, LifecycleRequest
    from adx_modules.installations.progress import DEACTIVATE, DELETE, DONE
    from adx_modules.sandboxes.contract import (
        ActivationRequest,
        SandboxActivities,
        SandboxRequest,
    )

UNINSTALLED = r.UNINSTALLED
FORCED = r.UNINSTALLED_WITH_FORCE


@workflow.defn(name="UninstallModuleWorkflow")
class UninstallModuleWorkflow:
    """Remove one ModuleInstallation's sandbox and records."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        steps = StepRunner(request, "uninstall")
        await steps.supersede()
        await steps.report(
            DEACTIVATE,
            phase="Uninstalling",
            rollup="reconciling",
            reason=r.PROGRESSING,
            message="uninstalling",
        )
        policy = request.spec.uninstall
        keep_data_of = None if policy is None or policy.cleanup_data else request.spec.module
        audit: list[Audit] = []
        forced = ""
        try:
            await steps.quick(
                SandboxActivities.ACTIVATE,
                ActivationRequest(ref=steps.ref, active=False, isolation=request.isolation),
            )
            if policy is not None and policy.backup_data:
                await steps.quick(
                    Activities.BACKUP, BackupRequest(ref=steps.ref, workflow_id=steps.workflow_id)
                )
                audit.append(("backup", "succeeded"))
            await steps.report(DELETE, message="deleting what was provisioned", audit=audit)
            removed: list[str] = await steps.run(
                SandboxActivities.DEPROVISION,
                SandboxRequest(
                    ref=steps.ref, isolation=request.isolation, keep_data_of=keep_data_of
                ),
                list[str],
                limit=timedelta(minutes=5),
                heartbeat=timedelta(seconds=15),
            )
            audit = [("delete", "succeeded", ", ".join(removed))]
            if keep_data_of:
                audit.append(("keep-data", "succeeded", f"for the next {steps.ref.name}"))
            collected = await steps.collect_dependencies(request.dependencies)
            if collected:
                audit.append(("collect-dependencies", "succeeded", ", ".join(collected)))
        except FailureError as error:
            _, forced = explain(error)
            audit = [("delete", "forced", forced)]
        message = (
            f"cleanup failed ({forced}); the garbage collector removes the owned objects once "
            "the installation is gone"
            if forced
            else "uninstalled; the module's data is kept for its next install"
            if keep_data_of
            else "uninstalled"
        )
        await steps.report(
            DONE,
            phase="Uninstalling",
            rollup="stalled" if forced else "reconciling",
            reason=r.CLEANUP_FORCED if forced else r.SUCCEEDED,
            message=message,
            done=True,
            record=steps.record(UNINSTALLED),
            audit=[*audit, ("uninstall", "succeeded", "forced" if forced else "")],
        )
        return FORCED if forced else UNINSTALLED
