"""The sandbox a module runs in: provision it, wait until healthy, activate, remove it.

Why it exists: this is the one seam through which every isolation level is provisioned; the
container level (Kubernetes objects by server-side apply) is here, others slot in beside it.
Every activity is idempotent: apply converges, delete of the absent is fine, waits re-check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adx_modules.api.lifecycle import (
    ActivationRequest,
    Activities,
    HealthRequest,
    InstallationRef,
    ProvisionRequest,
    ProvisionResult,
)
from adx_modules.api.meta import GROUP
from adx_modules.clients.kube import KubeClient, NotFoundError
from adx_modules.config import Settings
from adx_modules.provisioning import AVAILABLE_ISOLATION, container

ACTIVE_LABEL = f"{GROUP}/active"
ACTIVATION_MANAGER = "adx-module-operator-activation"
BRISK = 10.0  # seconds of polling every 0.5 s before slowing to every 2 s
EXPLAIN_AFTER = 3.0  # seconds before pods are listed to say what holds the rollout


def _owned_names(ref: InstallationRef) -> list[tuple[str, str]]:
    """(kind, name) of everything container isolation may create, in creation order."""
    name = container.object_name(ref)
    suffix = {"ConfigMap": "-config"}
    return [(kind, name + suffix.get(kind, "")) for kind in container.KINDS_IN_ORDER]


def health_problem(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> str | None:
    """Why the Deployment is not (yet) healthy, or None when it is."""
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 1):
        return "the rollout has not been observed yet"
    for pod in pods:
        for state in pod.get("status", {}).get("containerStatuses", []):
            waiting = state.get("state", {}).get("waiting") or {}
            if waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
                return (
                    f"pod {pod['metadata']['name']}: container {state['name']} is waiting "
                    f"({waiting['reason']}: {waiting.get('message', '')})"
                )
            terminated = state.get("state", {}).get("terminated")
            if terminated:
                return f"pod {pod['metadata']['name']}: container {state['name']} " + (
                    f"terminated ({terminated.get('reason', 'Error')}: "
                    f"{terminated.get('message', '')})"
                )
    counts = {
        k: status.get(k, 0) for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
    }
    if any(count < wanted for count in counts.values()) or status.get("replicas", 0) > wanted:
        return f"{counts['readyReplicas']}/{wanted} ready, {counts['updatedReplicas']} updated"
    return None


class SandboxActivities:
    """Kubernetes-backed sandboxes (container isolation)."""

    def __init__(self, kube: KubeClient, settings: Settings) -> None:
        self._kube = kube
        self._settings = settings

    def _manifests(self, request: ProvisionRequest) -> list[dict[str, Any]]:
        isolation = request.resolution.isolation
        if isolation not in AVAILABLE_ISOLATION:
            raise ApplicationError(
                f"spec.isolation: {isolation} is not available in this version "
                f"(available: {', '.join(AVAILABLE_ISOLATION)})",
                type="IsolationUnavailable",
                non_retryable=True,
            )
        sandbox = self._settings.sandbox
        try:
            return container.manifests(
                request.ref,
                request.spec,
                request.resolution,
                runner_images={
                    "python": sandbox.python_runner_image,
                    "javascript": sandbox.javascript_runner_image,
                },
                platform_label=sandbox.platform_namespace_label,
            )
        except ValueError as error:
            raise ApplicationError(str(error), type="InvalidModule", non_retryable=True) from error

    @activity.defn(name=Activities.PROVISION)
    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Server-side apply every object of the sandbox, in creation order."""
        objects = self._manifests(request)
        for manifest in objects:
            await self._kube.apply(manifest)
        return ProvisionResult(
            objects=[(m["kind"], m["metadata"]["name"]) for m in objects],
            configuration_hash=container.configuration_hash(request.spec.configuration),
        )

    @activity.defn(name=Activities.WAIT_HEALTHY)
    async def wait_healthy(self, request: HealthRequest) -> str:
        """Until every replica of the current revision is ready; heartbeats while waiting.

        Polls the Deployment alone (cheap for the apiserver when a hundred installs wait at
        once), briskly at first; its pods are looked at only to explain a delay."""
        name = container.object_name(request.ref)
        selector = ",".join(f"{k}={v}" for k, v in container.selector(request.ref).items())
        started = time.monotonic()
        deadline = started + request.timeout_seconds
        problem = "not checked yet"
        while time.monotonic() < deadline:
            try:
                deployment = await self._kube.read("Deployment", request.ref.namespace, name)
            except NotFoundError:
                problem = f"Deployment {name} does not exist"
            else:
                problem = health_problem(deployment, []) or ""
                if not problem:
                    return f"Deployment {name} is ready"
                if time.monotonic() - started > EXPLAIN_AFTER:
                    pods = await self._kube.list_objects("Pod", request.ref.namespace, selector)
                    current = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                    problem = health_problem(deployment, current) or problem
            activity.heartbeat(problem)
            await asyncio.sleep(0.5 if time.monotonic() - started < BRISK else 2)
        raise ApplicationError(
            f"not healthy within {request.timeout_seconds}s: {problem}",
            type="HealthCheckFailed",
            non_retryable=True,
        )

    @activity.defn(name=Activities.ACTIVATE)
    async def activate(self, request: ActivationRequest) -> None:
        """Mark the module's Service active (routable) or not, as a field of its own manager.
        Without a Service (no API) there is nothing to route to: activation is the phase."""
        if not request.has_service:
            return
        name = container.object_name(request.ref)
        try:
            # applying to a Service that does not exist would try to create a partial one
            await self._kube.read("Service", request.ref.namespace, name)
            await self._kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": name,
                        "namespace": request.ref.namespace,
                        "labels": {ACTIVE_LABEL: "true" if request.active else "false"},
                    },
                },
                manager=ACTIVATION_MANAGER,
            )
        except NotFoundError:
            return

    @activity.defn(name=Activities.DEPROVISION)
    async def deprovision(self, ref: InstallationRef) -> list[str]:
        """Delete the sandbox in reverse creation order and wait until it is gone."""
        owned = list(reversed(_owned_names(ref)))
        deleted = [
            f"{kind}/{name}"
            for kind, name in owned
            if await self._kube.delete_object(kind, ref.namespace, name)
        ]
        while True:
            remaining = []
            for kind, name in owned:
                try:
                    await self._kube.read(kind, ref.namespace, name)
                    remaining.append(f"{kind}/{name}")
                except NotFoundError:
                    pass
            if not remaining:
                return deleted
            activity.heartbeat(f"waiting for {', '.join(remaining)}")
            await asyncio.sleep(1)
