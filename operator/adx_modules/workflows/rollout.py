"""The steps install and update share: resolve, the permission and security gates, deploy.

Why it exists: an install is an update from nothing; both choose a version, stop for approval
when the module asks for permissions the tenant has not granted, refuse a module that did not
pass its scan, then provision a revision and wait until it is healthy.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from adx_modules.workflows.steps import Steps

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api.lifecycle import (
        ActivationRequest,
        Activities,
        HealthRequest,
        InstallationRecord,
        LifecycleRequest,
        ProvisionRequest,
        ProvisionResult,
        Resolution,
    )

DEFAULT_HEALTH_TIMEOUT = 300


async def resolve_and_gate(
    steps: Steps, request: LifecycleRequest, *, label: str = ""
) -> Resolution:
    """Choose the version, then pass the permission gate and the security gate; step names
    carry ``label`` (e.g. ``rollback-``) so the status says which pass this is."""
    resolution: Resolution = await steps.run(Activities.RESOLVE, request, Resolution)
    module = resolution.module
    chosen = f"{module.module_id} {module.version} (Module {resolution.module_name})"
    await steps.report(
        f"{label}resolve",
        15,
        conditions=[
            (c.ACCEPTED, "True", c.VALID, "the spec passed the operator's checks"),
            (c.RESOLVED, "True", c.RESOLVED_REASON, f"{chosen} satisfies {request.spec.version!r}"),
        ],
        fields={"resolvedVersion": module.version, "isolation": resolution.isolation},
    )
    await steps.audit(f"{label}resolve", "succeeded", chosen)
    if resolution.missing_permissions:
        await steps.wait_for_approval(resolution.missing_permissions)
    if resolution.module_phase != "Available":
        raise ApplicationError(
            f"Module {resolution.module_name} is {resolution.module_phase}, not Available",
            type="ModuleNotAvailable",
            non_retryable=True,
        )
    score, minimum = resolution.security_score, resolution.min_security_score
    if resolution.scanning_enabled and score is not None and score < minimum:
        raise ApplicationError(
            f"{chosen} has security score {score}, below the minimum {minimum}",
            type="SecurityScoreTooLow",
            non_retryable=True,
        )
    scanned = (
        (c.SCANNED, "True", c.SUCCEEDED, f"security score {score} (minimum {minimum})")
        if score is not None
        else (c.SCANNED, "Unknown", c.NOT_SCANNED, "the module has no security score yet")
    )
    await steps.report(
        f"{label}security-gate",
        25,
        conditions=[
            (c.PERMISSIONS_APPROVED, "True", c.SUCCEEDED, "every declared permission is approved"),
            scanned,
        ],
    )
    return resolution


async def deploy(
    steps: Steps, request: LifecycleRequest, resolution: Resolution, revision: int
) -> ProvisionResult:
    """Provision ``revision`` and wait until it is healthy."""
    result: ProvisionResult = await steps.run(
        Activities.PROVISION,
        ProvisionRequest(
            ref=steps.ref, spec=request.spec, resolution=resolution, revision=revision
        ),
        ProvisionResult,
    )
    await steps.audit(
        f"provision-r{revision}", "succeeded", ", ".join(f"{k}/{n}" for k, n in result.objects)
    )
    await steps.report(
        "wait-healthy", 60, message=f"waiting for revision {revision} to become ready"
    )
    policy = request.spec.update
    timeout = policy.health_timeout_seconds if policy else DEFAULT_HEALTH_TIMEOUT
    await steps.run(
        Activities.WAIT_HEALTHY,
        HealthRequest(ref=steps.ref, timeout_seconds=timeout),
        str,
        limit=timedelta(seconds=timeout + 60),
        heartbeat=timedelta(seconds=15),
    )
    await steps.audit(f"wait-healthy-r{revision}", "succeeded")
    return result


async def activate_and_record(
    steps: Steps, request: LifecycleRequest, resolution: Resolution, revision: int
) -> str:
    """Activate (if asked), record the revision, and return the resulting phase."""
    active = request.spec.auto_activate
    await steps.run(Activities.ACTIVATE, ActivationRequest(ref=steps.ref, active=active))
    phase = "Active" if active else "Inactive"
    await steps.run(
        Activities.RECORD_INSTALLATION,
        InstallationRecord(
            ref=steps.ref,
            module_id=resolution.module.module_id,
            phase=phase,
            workflow_id=steps.workflow_id,
            version=resolution.module.version,
            isolation=resolution.isolation,
            revision=revision,
            configuration=dict(request.spec.configuration or {}),
        ),
    )
    return phase


async def report_success(
    steps: Steps,
    resolution: Resolution,
    revision: int,
    result: ProvisionResult,
    *,
    phase: str,
    message: str,
) -> None:
    """Ready: the revision runs; it joins status.history; the failure streak ends."""
    version = resolution.module.version
    await steps.report(
        "done",
        100,
        phase=phase,
        rollup="ready",
        reason=c.SUCCEEDED,
        message=message,
        conditions=[
            (c.INSTALLED, "True", c.SUCCEEDED, f"revision {revision} runs {version}"),
            (c.HEALTHY, "True", c.SUCCEEDED, "every replica is ready"),
        ],
        clear=[c.REMEDIATED],
        fields={"installedVersion": version},
        revision={
            "revision": revision,
            "version": version,
            "configurationHash": result.configuration_hash,
            "appliedAt": workflow.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        failure=False,
        done=True,
    )
