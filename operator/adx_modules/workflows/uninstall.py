"""UninstallModuleWorkflow: what runs behind the finalizer when an installation is deleted.

Why it exists: deleting an installation must leave nothing behind and keep what the tenant
asked to keep: deactivate, back up the module's data if asked, delete what was provisioned and
wait until it is gone, mark the record uninstalled. It always ends, so the finalizer always
comes off; if cleanup kept failing it says so (owner references let the garbage collector
finish the job once the installation is gone).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from adx_modules.workflows.steps import QUICK, Steps, explain

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api.lifecycle import (
        ActivationRequest,
        Activities,
        BackupRequest,
        InstallationRecord,
        LifecycleRequest,
    )

UNINSTALLED = "Uninstalled"
FORCED = "UninstalledWithForce"


@workflow.defn(name="UninstallModuleWorkflow")
class UninstallModuleWorkflow:
    """Remove one ModuleInstallation's sandbox and records."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        steps = Steps(request, "uninstall")
        await steps.supersede()
        await steps.report(
            "deactivate",
            10,
            phase="Uninstalling",
            rollup="reconciling",
            reason=c.PROGRESSING,
            message="uninstalling",
        )
        policy = request.spec.uninstall
        forced: list[str] = []
        try:
            await steps.run(Activities.ACTIVATE, ActivationRequest(ref=steps.ref, active=False))
            if policy is not None and policy.backup_data:
                await steps.report("backup", 30, message="backing up the module's data")
                await steps.run(
                    Activities.BACKUP, BackupRequest(ref=steps.ref, workflow_id=steps.workflow_id)
                )
                await steps.audit("backup", "succeeded")
            await steps.report("delete", 60, message="deleting what was provisioned")
            removed = await steps.run(
                Activities.DEPROVISION,
                steps.ref,
                list[str],
                limit=timedelta(minutes=5),
                heartbeat=QUICK,
            )
            await steps.audit("delete", "succeeded", ", ".join(removed))
        except FailureError as error:
            _, why = explain(error)
            forced.append(why)
            await steps.audit("delete", "forced", why)
        await steps.run(
            Activities.RECORD_INSTALLATION,
            InstallationRecord(
                ref=steps.ref,
                module_id=request.spec.module,
                phase=UNINSTALLED,
                workflow_id=steps.workflow_id,
            ),
        )
        if forced:
            await steps.report(
                "done",
                100,
                phase="Uninstalling",
                rollup="stalled",
                reason="CleanupForced",
                message=f"cleanup failed ({forced[0]}); the garbage collector removes the "
                "owned objects once the installation is gone",
                done=True,
            )
        await steps.audit("uninstall", "succeeded", "forced" if forced else "")
        return FORCED if forced else UNINSTALLED
