"""The sandbox activities: the lifecycle's sandbox steps, dispatched to the backend of the
installation's isolation level.

Why it exists: workflows call one set of activities by name whatever the isolation; this turns
each call into the backend's operation, and a backend's progress into Temporal heartbeats (so
a worker that dies mid-wait is noticed and the wait resumes elsewhere). Backends are idempotent,
so at-least-once delivery is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.settings import Settings
from adx_modules.sandboxes.backend import SandboxRegistry
from adx_modules.sandboxes.container.backend import ContainerBackend
from adx_modules.sandboxes.contract import (
    ActivationRequest,
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxActivities,
    SandboxRequest,
)
from adx_modules.sandboxes.runner.backend import RunnerBackend
from adx_modules.sandboxes.wasm.backend import WasmBackend


def registry(kube: KubeClient, store: Store, settings: Settings) -> SandboxRegistry:
    """Every backend this version has."""
    return SandboxRegistry(
        [
            ContainerBackend(kube, settings.sandbox),
            WasmBackend(store, kube, settings),
            RunnerBackend(store, kube, settings),
        ]
    )


class SandboxSteps:
    """The activities, over a registry of backends."""

    def __init__(self, backends: SandboxRegistry) -> None:
        self._backends = backends

    @activity.defn(name=SandboxActivities.PROVISION)
    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        return await self._backends.backend(request.isolation).provision(request)

    @activity.defn(name=SandboxActivities.WAIT_HEALTHY)
    async def wait_healthy(self, request: HealthRequest) -> str:
        backend = self._backends.backend(request.isolation)
        return await backend.wait_healthy(request, activity.heartbeat)

    @activity.defn(name=SandboxActivities.ACTIVATE)
    async def activate(self, request: ActivationRequest) -> None:
        for backend in self._backends.chosen(request.isolation):
            await backend.activate(request.ref, request.active)

    @activity.defn(name=SandboxActivities.DEPROVISION)
    async def deprovision(self, request: SandboxRequest) -> list[str]:
        removed: list[str] = []
        for backend in self._backends.chosen(request.isolation):
            removed += await backend.deprovision(request.ref, activity.heartbeat)
        return removed

    def all(self) -> list[Callable[..., Any]]:
        """Every sandbox activity, for the worker."""
        return [self.provision, self.wait_healthy, self.activate, self.deprovision]
