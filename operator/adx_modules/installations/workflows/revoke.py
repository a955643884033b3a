"""EnforceRevocationWorkflow: a refunded module stops running for the tenant.

Why it exists: a refund revokes the tenant's entitlement (the marketplace's refund workflow);
each of the tenant's installations of that module is then marked ``EntitlementRevoked`` and the
policy of ``marketplace.revocation_policy`` applied: ``suspend`` stops routing to the module
(phase Inactive, its objects and data kept: a new purchase and an edit bring it back), while
``uninstall`` deletes the ModuleInstallation, whose uninstall workflow removes it as a tenant's
delete would. Started by name from the marketplace, which knows nothing of installations.
"""

from __future__ import annotations

from temporalio import workflow

from adx_modules.installations.workflows.runner import StepRunner

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api import reasons as r
    from adx_modules.installations.contract import Activities, LifecycleRequest
    from adx_modules.installations.messages import Condition
    from adx_modules.installations.progress import DONE, REVOKE
    from adx_modules.marketplace.contract import PurchaseActivities, Revocation
    from adx_modules.sandboxes.contract import ActivationRequest, SandboxActivities


@workflow.defn(name=PurchaseActivities.ENFORCE_REVOCATION)
class EnforceRevocationWorkflow:
    """Apply a revoked entitlement to one installation."""

    @workflow.run
    async def run(self, revocation: Revocation) -> str:
        request = LifecycleRequest(ref=revocation.ref, spec=revocation.spec, actor="marketplace")
        steps = StepRunner(request, "revoke")
        revoked: Condition = (c.ENTITLED, "False", r.ENTITLEMENT_REVOKED, revocation.message)
        if revocation.policy == "uninstall":
            await steps.report(
                REVOKE,
                rollup="stalled",
                reason=r.ENTITLEMENT_REVOKED,
                message=f"{revocation.message}; uninstalling (marketplace.revocation_policy)",
                conditions=[revoked],
                audit=[(REVOKE.name, "succeeded", "uninstall")],
            )
            await steps.quick(Activities.WITHDRAW, revocation.ref, bool)
            return "uninstalled"
        await steps.quick(
            SandboxActivities.ACTIVATE,
            ActivationRequest(ref=revocation.ref, active=False, isolation=revocation.isolation),
        )
        await steps.report(
            DONE,
            phase="Inactive",
            rollup="stalled",
            reason=r.ENTITLEMENT_REVOKED,
            message=f"{revocation.message}; suspended: the module no longer serves (purchase it "
            "again, then edit the installation, to resume)",
            conditions=[revoked],
            done=True,
            record=steps.record("Inactive"),
            audit=[(REVOKE.name, "succeeded", "suspend")],
        )
        return "suspended"
