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

from adx_modules.workflows.steps import Audit, Steps

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import conditions as c
    from adx_modules.api.lifecycle import (
        ActivationRequest,
        Activities,
        DependencyRequest,
        HealthRequest,
        InstallationsRequest,
        LifecycleRequest,
        ProvisionRequest,
        ProvisionResult,
        Resolution,
    )
    from adx_modules.provisioning.container import object_name

DEFAULT_HEALTH_TIMEOUT = 300


async def resolve_and_gate(
    steps: Steps,
    request: LifecycleRequest,
    *,
    next_step: str,
    phase: str,
    label: str = "",
    audit: tuple[Audit, ...] = (),
) -> Resolution:
    """Choose the version, pass the permission gate and the security gate, then report the
    next step (``next_step`` in ``phase``). Step names carry ``label`` (``rollback-``)."""
    resolution: Resolution = await steps.quick(Activities.RESOLVE, request, Resolution)
    module = resolution.module
    chosen = f"{module.module_id} {module.version} (Module {resolution.module_name})"
    resolved = [
        (c.ACCEPTED, "True", c.VALID, "the spec passed the operator's checks"),
        (c.RESOLVED, "True", c.RESOLVED_REASON, f"{chosen} satisfies {request.spec.version!r}"),
    ]
    if resolution.missing_permissions:
        await steps.report(
            f"{label}resolve",
            15,
            conditions=resolved,
            audit=[(f"{label}resolve", "succeeded", chosen)],
        )
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
    dependencies = [
        {"moduleId": d.module_id, "version": d.version, "installation": d.installation}
        for d in resolution.dependencies
    ]
    await steps.report(
        f"{label}dependencies" if resolution.dependencies else f"{label}{next_step}",
        30 if resolution.dependencies else 40,
        phase=phase,
        rollup="reconciling",
        reason=c.PROGRESSING,
        message=f"{phase.lower()} {module.module_id} {module.version}",
        conditions=[
            *resolved,
            (c.PERMISSIONS_APPROVED, "True", c.SUCCEEDED, "every declared permission is approved"),
            scanned,
        ],
        fields={
            "resolvedVersion": module.version,
            "isolation": resolution.isolation,
            "resolvedDependencies": dependencies,
        },
        audit=[*audit, (f"{label}resolve", "succeeded", chosen)],
    )
    if resolution.dependencies:
        await install_dependencies(steps, resolution)
        await steps.report(f"{label}{next_step}", 40, message=f"{phase.lower()} {chosen}")
    return resolution


async def install_dependencies(steps: Steps, resolution: Resolution) -> None:
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
        "dependencies",
        38,
        audit=[("dependencies", "succeeded", ", ".join(d.installation for d in needed))],
    )


async def deploy(
    steps: Steps, request: LifecycleRequest, resolution: Resolution, revision: int
) -> ProvisionResult:
    """Provision ``revision`` and wait until it is healthy."""
    result: ProvisionResult = await steps.quick(
        Activities.PROVISION,
        ProvisionRequest(
            ref=steps.ref, spec=request.spec, resolution=resolution, revision=revision
        ),
        ProvisionResult,
    )
    created = ", ".join(f"{kind}/{name}" for kind, name in result.objects)
    await steps.report(
        "wait-healthy",
        60,
        message=f"waiting for revision {revision} to become ready",
        audit=[(f"provision-r{revision}", "succeeded", created)],
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
    return result


async def activate(steps: Steps, request: LifecycleRequest, resolution: Resolution) -> str:
    """Activate (if asked) and return the resulting phase."""
    active = request.spec.auto_activate
    points = resolution.module.extension_points
    await steps.quick(
        Activities.ACTIVATE,
        ActivationRequest(ref=steps.ref, active=active, has_service=bool(points and points.api)),
    )
    return "Active" if active else "Inactive"


async def report_success(
    steps: Steps,
    resolution: Resolution,
    revision: int,
    result: ProvisionResult,
    *,
    phase: str,
    message: str,
) -> None:
    """Ready: the revision runs, is recorded, joins status.history; the failure streak ends."""
    module = resolution.module
    service = f"{object_name(steps.ref)}.{steps.ref.namespace}.svc"
    apis = module.extension_points.api if module.extension_points else []
    endpoints = [
        {
            "name": api.path.strip("/").replace("/", "-")[:63] or "api",
            "url": f"http://{service}:{api.port}{api.path}",
        }
        for api in apis
    ]
    await steps.report(
        "done",
        100,
        phase=phase,
        rollup="ready",
        reason=c.SUCCEEDED,
        message=message,
        conditions=[
            (c.INSTALLED, "True", c.SUCCEEDED, f"revision {revision} runs {module.version}"),
            (c.HEALTHY, "True", c.SUCCEEDED, "every replica is ready"),
        ],
        clear=[c.REMEDIATED],
        fields={"installedVersion": module.version, "endpoints": endpoints},
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
        audit=[(f"wait-healthy-r{revision}", "succeeded"), (steps.action, "succeeded", message)],
    )
