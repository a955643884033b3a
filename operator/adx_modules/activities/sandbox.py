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


def _owned_names(ref: InstallationRef) -> list[tuple[str, str]]:
    """(kind, name) of everything container isolation may create, in creation order."""
    name = container.object_name(ref)
    suffix = {"ConfigMap": "-config", "Secret": "-secrets"}
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
        """Until every replica of the current revision is ready; heartbeats while waiting."""
        name = container.object_name(request.ref)
        selector = ",".join(f"{k}={v}" for k, v in container.selector(request.ref).items())
        deadline = time.monotonic() + request.timeout_seconds
        problem = "not checked yet"
        while time.monotonic() < deadline:
            try:
                deployment = await self._kube.read("Deployment", request.ref.namespace, name)
            except NotFoundError:
                problem = f"Deployment {name} does not exist"
            else:
                pods = await self._kube.list_objects("Pod", request.ref.namespace, selector)
                current = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                problem = health_problem(deployment, current) or ""
                if not problem:
                    return f"Deployment {name} is ready"
            activity.heartbeat(problem)
            await asyncio.sleep(1)
        raise ApplicationError(
            f"not healthy within {request.timeout_seconds}s: {problem}",
            type="HealthCheckFailed",
            non_retryable=True,
        )

    @activity.defn(name=Activities.ACTIVATE)
    async def activate(self, request: ActivationRequest) -> None:
        """Mark the sandbox active (routable) or not, as a field of its own field manager."""
        name = container.object_name(request.ref)
        for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1")):
            try:
                await self._kube.read(kind, request.ref.namespace, name)
            except NotFoundError:
                continue
            await self._kube.apply(
                {
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": {
                        "name": name,
                        "namespace": request.ref.namespace,
                        "labels": {ACTIVE_LABEL: "true" if request.active else "false"},
                    },
                },
                manager=ACTIVATION_MANAGER,
            )

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
