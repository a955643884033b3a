"""The container backend: the module's pod and its companions, applied, watched and removed.

Why it exists: this is where container isolation touches the cluster. It applies what
:mod:`manifests` builds, but only onto objects this installation owns (:mod:`owned`: a
tenant's own Deployment of the same name is never adopted, changed or deleted).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adx_modules.api import reasons as r
from adx_modules.api.meta import GROUP
from adx_modules.catalog.configuration import configuration_hash
from adx_modules.clients.errors import NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef
from adx_modules.core.sandbox_settings import SandboxSettings
from adx_modules.sandboxes import owned
from adx_modules.sandboxes.backend import Progress
from adx_modules.sandboxes.container import manifests
from adx_modules.sandboxes.container.health import health_problem
from adx_modules.sandboxes.contract import (
    Endpoint,
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxDescription,
)

ACTIVE_LABEL = f"{GROUP}/active"
ACTIVATION_MANAGER = "adx-module-operator-activation"
BRISK = 10.0  # seconds of polling every 0.5 s before slowing to every 2 s
EXPLAIN_AFTER = 3.0  # seconds before pods are listed to say what holds the rollout


class ContainerBackend:
    """Container isolation: Kubernetes objects by server-side apply."""

    isolation = "container"

    def __init__(self, kube: KubeClient, settings: SandboxSettings) -> None:
        self._kube = kube
        self._settings = settings

    async def _existing(self, ref: InstallationRef, kind: str, name: str) -> dict[str, Any]:
        return await owned.existing(self._kube, ref, kind, name)

    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Check that every object is free or ours, then server-side apply them in order."""
        settings = self._settings
        try:
            objects = manifests.manifests(
                request.ref,
                request.spec,
                request.module,
                runner_images={
                    "python": settings.python_runner_image,
                    "javascript": settings.javascript_runner_image,
                },
                platform_label=settings.platform_namespace_label,
            )
        except ValueError as error:
            raise StepError(r.INVALID_MODULE, str(error)) from error
        existing = [  # every clash is found before anything is written
            await self._existing(request.ref, manifest["kind"], manifest["metadata"]["name"])
            for manifest in objects
        ]
        if not any(body.get("kind") == "Deployment" for body in existing):
            await self._refuse_past_the_limit()
        for manifest in objects:
            await self._kube.apply(manifest)
        return ProvisionResult(
            objects=[(m["kind"], m["metadata"]["name"]) for m in objects],
            configuration_hash=configuration_hash(request.spec.configuration),
            endpoints=[Endpoint(**e) for e in manifests.endpoints(request.ref, request.module)],
        )

    async def _refuse_past_the_limit(self) -> None:
        """A new sandbox only while fewer than sandbox.max_sandboxes run (across the cluster;
        concurrent installs may pass it by a few: a guard against runaway, not a quota)."""
        limit = self._settings.max_sandboxes
        running = await self._kube.list_objects("Deployment", None, manifests.SANDBOX_SELECTOR)
        if len(running) >= limit:
            raise StepError(
                r.SANDBOX_LIMIT_REACHED,
                f"{len(running)} container sandboxes run, and sandbox.max_sandboxes is {limit}: "
                "uninstall a module or raise the setting",
            )

    async def wait_healthy(self, request: HealthRequest, progress: Progress) -> str:
        """Until every replica of the current revision is ready.

        Polls the Deployment alone (cheap for the apiserver when a hundred installs wait at
        once), briskly at first; its pods are looked at only to explain a delay."""
        ref = request.ref
        name = manifests.object_name(ref)
        selector = ",".join(f"{k}={v}" for k, v in manifests.selector(ref).items())
        started = time.monotonic()
        deadline = started + request.timeout_seconds
        problem = "not checked yet"
        while time.monotonic() < deadline:
            try:
                deployment = await self._kube.get_object("Deployment", name, ref.namespace)
            except NotFoundError:
                problem = f"Deployment {name} does not exist"
            else:
                problem = health_problem(deployment, []) or ""
                if not problem:
                    return f"Deployment {name} is ready"
                if time.monotonic() - started > EXPLAIN_AFTER:
                    pods = await self._kube.list_objects("Pod", ref.namespace, selector)
                    current = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                    problem = health_problem(deployment, current) or problem
            progress(problem)
            await asyncio.sleep(0.5 if time.monotonic() - started < BRISK else 2)
        raise StepError(
            r.HEALTH_CHECK_FAILED, f"not healthy within {request.timeout_seconds}s: {problem}"
        )

    async def activate(self, ref: InstallationRef, active: bool) -> None:
        """Mark the module's Service active (routable) or not, as a field of its own manager.
        Without a Service (no API) there is nothing to route to: activation is the phase."""
        name = manifests.object_name(ref)
        # applying to a Service that does not exist would try to create a partial one
        if not await self._existing(ref, "Service", name):
            return
        await self._kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": ref.namespace,
                    "labels": {ACTIVE_LABEL: "true" if active else "false"},
                },
            },
            manager=ACTIVATION_MANAGER,
        )

    async def deprovision(
        self, ref: InstallationRef, progress: Progress, keep_data_of: str | None = None
    ) -> list[str]:
        """Delete what this installation owns, in reverse creation order, and wait until it is
        gone. What is not its own is neither deleted nor waited for. (A container keeps no data
        in the service's database: ``keep_data_of`` has nothing to keep.)"""
        deleted: list[tuple[str, str]] = []
        for kind, name in reversed(manifests.owned_names(ref)):
            if await owned.delete(self._kube, ref, kind, name):
                deleted.append((kind, name))
        waiting = list(deleted)
        while waiting:
            for kind, name in list(waiting):
                try:
                    body = await self._kube.get_object(kind, name, ref.namespace)
                except NotFoundError:
                    waiting.remove((kind, name))
                    continue
                if not manifests.owned_by(body, ref):  # gone; another holds the name now
                    waiting.remove((kind, name))
            if waiting:
                progress("waiting for " + ", ".join(f"{k}/{n}" for k, n in waiting))
                await asyncio.sleep(1)
        return [f"{kind}/{name}" for kind, name in deleted]

    async def describe(self, ref: InstallationRef) -> SandboxDescription:
        """The objects of this installation that exist, and its Service's endpoints."""
        found = []
        for kind, name in manifests.owned_names(ref):
            try:
                body = await self._kube.get_object(kind, name, ref.namespace)
            except NotFoundError:
                continue
            if manifests.owned_by(body, ref):
                found.append(f"{kind}/{name}")
        return SandboxDescription(isolation=self.isolation, objects=found)
