"""The steps install and update share: resolve, the permission and security gates, deploy.

Why it exists: an install is an update from nothing; both choose a version, stop for approval
when the module asks for permissions the tenant has not granted, refuse a module that did not
pass its scan, then provision a revision and wait until it is healthy. Each report both shows
the step on the CR and records the previous one, so a step costs one activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from adx_modules.installations.workflows.runner import Audit, StepRunner

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api import reasons as r
    from adx_modules.installations.contract import (
        Activities,
        DependencyRequest,
        InstallationsRequest,
        LifecycleRequest,
        Resolution,
    )
    from adx_modules.installations.messages import Condition, accepted, permissions_approved
    from adx_modules.installations.progress import (
        DEPENDENCIES,
        DEPENDENCIES_READY,
        DONE,
        PROVISION,
        RESOLVE,
        WAIT_HEALTHY,
        Step,
        labelled,
    )
    from adx_modules.sandboxes.contract import (
        ActivationRequest,
        HealthRequest,
        ProvisionRequest,
        ProvisionResult,
        SandboxActivities,
    )


async def resolve_and_gate(
    steps: StepRunner,
    request: LifecycleRequest,
    *,
    next_step: Step,
    phase: str,
    label: str = "",
    audit: tuple[Audit, ...] = (),
) -> Resolution:
    """Choose the version, pass the permission gate and the security gate, then report the
    next step (``next_step`` in ``phase``). Step names carry ``label`` (``rollback-``)."""
    resolution: Resolution = await steps.quick(Activities.RESOLVE, request, Resolution)
    module = resolution.module
    chosen = f"{module.module_id} {module.version} (Module {resolution.module_name})"
    resolve = labelled(RESOLVE, label)
    resolved = [
        accepted(),
        (c.RESOLVED, "True", r.RESOLVED_REASON, f"{chosen} satisfies {request.spec.version!r}"),
    ]
    if resolution.missing_permissions:
        await steps.report(
            resolve, conditions=resolved, audit=[(resolve.name, "succeeded", chosen)]
        )
        await steps.wait_for_approval(resolution.missing_permissions)
    if resolution.module_phase != "Available":
        raise ApplicationError(
            f"Module {resolution.module_name} is {resolution.module_phase}, not Available",
            type=r.MODULE_NOT_AVAILABLE,
            non_retryable=True,
        )
    gates: list[Condition] = []
    if workflow.patched("entitlement-gate"):
        gates.append(await steps.entitlement_gate(module.module_id))
    score, minimum = resolution.security_score, resolution.min_security_score
    if workflow.patched("scan-gate-fails-closed"):
        scanned = security_gate(resolution, chosen)
    else:  # the gate as recorded histories ran it (a score was checked only when present)
        if resolution.scanning_enabled and score is not None and score < minimum:
            raise ApplicationError(
                f"{chosen} has security score {score}, below the minimum {minimum}",
                type=r.SECURITY_SCORE_TOO_LOW,
                non_retryable=True,
            )
        scanned = (
            (c.SCANNED, "True", r.SUCCEEDED, f"security score {score} (minimum {minimum})")
            if score is not None
            else (c.SCANNED, "Unknown", r.NOT_SCANNED, "the module has no security score yet")
        )
    dependencies = [
        {"moduleId": d.module_id, "version": d.version, "installation": d.installation}
        for d in resolution.dependencies
    ]
    await steps.report(
        labelled(DEPENDENCIES if resolution.dependencies else next_step, label),
        phase=phase,
        rollup="reconciling",
        reason=r.PROGRESSING,
        message=f"{phase.lower()} {module.module_id} {module.version}",
        conditions=[
            *resolved,
            permissions_approved(),
            *gates,
            scanned,
        ],
        fields={
            "resolved_version": module.version,
            "isolation": resolution.isolation,
            "resolved_dependencies": dependencies,
        },
        audit=[*audit, (resolve.name, "succeeded", chosen)],
    )
    if resolution.dependencies:
        await install_dependencies(steps, resolution)
        await steps.report(labelled(next_step, label), message=f"{phase.lower()} {chosen}")
    return resolution


def security_gate(resolution: Resolution, chosen: str) -> Condition:
    """Fails closed: with scanning enabled, a module without a score (never scanned, or being
    rescanned from nothing) or below the minimum is refused; the Scanned condition otherwise."""
    score, minimum = resolution.security_score, resolution.min_security_score
    if not resolution.scanning_enabled:
        return (
            c.SCANNED,
            "False",
            r.SCANNING_DISABLED,
            f"{chosen} is installed unscanned: security.scanning_enabled is false",
        )
    if score is None:
        raise ApplicationError(
            f"{chosen} has no security score: it has not been scanned",
            type=r.MODULE_NOT_AVAILABLE,
            non_retryable=True,
        )
    if score < minimum:
        raise ApplicationError(
            f"{chosen} has security score {score}, below the minimum {minimum}",
            type=r.SECURITY_SCORE_TOO_LOW,
            non_retryable=True,
        )
    return (
        c.SCANNED,
        "True",
        r.SCAN_PASSED,
        f"security score {score} (minimum {minimum}); runs {resolution.digest or 'as scanned'}",
    )


async def install_dependencies(steps: StepRunner, resolution: Resolution) -> None:
    """A level at a time: create what is missing (in parallel within a level, as separate
    installations with their own lifecycles), then wait until the level is Ready."""
    needed = resolution.dependencies
    for level in sorted({d.level for d in needed}):
        batch = [d for d in needed if d.level == level]
        created: list[str] = await steps.quick(
            Activities.ENSURE_DEPENDENCIES,
            DependencyRequest(ref=steps.ref, dependencies=batch),
            list[str],
        )
        steps.created_dependencies += created
        await steps.run(
            Activities.WAIT_INSTALLATIONS,
            InstallationsRequest(ref=steps.ref, names=[d.installation for d in batch]),
            limit=timedelta(minutes=11),
            heartbeat=timedelta(seconds=30),
        )
    await steps.report(
        DEPENDENCIES_READY,
        audit=[("dependencies", "succeeded", ", ".join(d.installation for d in needed))],
    )


async def deploy(
    steps: StepRunner, request: LifecycleRequest, resolution: Resolution, revision: int
) -> ProvisionResult:
    """Provision ``revision`` and wait until it is healthy."""
    result: ProvisionResult = await steps.quick(
        SandboxActivities.PROVISION,
        ProvisionRequest(
            ref=steps.ref,
            spec=request.spec,
            module=resolution.module,
            isolation=resolution.isolation,
            revision=revision,
        ),
        ProvisionResult,
    )
    created = ", ".join(f"{kind}/{name}" for kind, name in result.objects)
    await steps.report(
        WAIT_HEALTHY,
        message=f"waiting for revision {revision} to become ready",
        audit=[(f"{PROVISION.name}-r{revision}", "succeeded", created)],
    )
    timeout = resolution.health_timeout_seconds
    await steps.run(
        SandboxActivities.WAIT_HEALTHY,
        HealthRequest(ref=steps.ref, timeout_seconds=timeout, isolation=resolution.isolation),
        str,
        limit=timedelta(seconds=timeout + 60),
        heartbeat=timedelta(seconds=15),
    )
    return result


async def activate(steps: StepRunner, request: LifecycleRequest, resolution: Resolution) -> str:
    """Activate (if asked) and return the resulting phase."""
    active = request.spec.auto_activate
    await steps.quick(
        SandboxActivities.ACTIVATE,
        ActivationRequest(ref=steps.ref, active=active, isolation=resolution.isolation),
    )
    return "Active" if active else "Inactive"


async def report_success(
    steps: StepRunner,
    resolution: Resolution,
    revision: int,
    result: ProvisionResult,
    *,
    phase: str,
    message: str,
) -> None:
    """Ready: the revision runs, is recorded, joins status.history; the failure streak ends."""
    module = resolution.module
    endpoints = [endpoint.model_dump() for endpoint in result.endpoints]
    await steps.report(
        DONE,
        phase=phase,
        rollup="ready",
        reason=r.SUCCEEDED,
        message=message,
        conditions=[
            (c.INSTALLED, "True", r.SUCCEEDED, f"revision {revision} runs {module.version}"),
            (c.HEALTHY, "True", r.SUCCEEDED, "every replica is ready"),
        ],
        clear=[c.REMEDIATED],
        fields={"installed_version": module.version, "endpoints": endpoints},
        revision={
            "revision": revision,
            "version": module.version,
            "configurationHash": result.configuration_hash,
            "appliedAt": workflow.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        failure=False,
        done=True,
        record=steps.record(
            phase,
            version=module.version,
            isolation=resolution.isolation,
            revision=revision,
            configuration=dict(steps.request.spec.configuration or {}),
        ),
        audit=[
            (f"{WAIT_HEALTHY.name}-r{revision}", "succeeded"),
            (steps.action, "succeeded", message),
        ],
    )
