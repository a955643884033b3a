"""The sandbox activities: the lifecycle's sandbox steps, dispatched to the backend of the
installation's isolation level, and the steps of the workflows modules contribute.

Why it exists: workflows call one set of activities by name whatever the isolation; this turns
each call into the backend's operation, and a backend's progress into Temporal heartbeats (so
a worker that dies mid-wait is noticed and the wait resumes elsewhere). Backends are idempotent,
so at-least-once delivery is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.errors import StepError
from adx_modules.core.settings import Settings
from adx_modules.sandboxes.admin_http import HostAdmin
from adx_modules.sandboxes.backend import SandboxRegistry
from adx_modules.sandboxes.container.backend import ContainerBackend
from adx_modules.sandboxes.contract import (
    ActivationRequest,
    HealthRequest,
    ModuleWorkflowActivities,
    ModuleWorkflowRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxActivities,
    SandboxRequest,
    StepPolicy,
)
from adx_modules.sandboxes.runner.backend import RunnerBackend
from adx_modules.sandboxes.runner.placement import RunnerPlacement
from adx_modules.sandboxes.wasm.backend import WasmBackend


def registry(kube: KubeClient, store: Store, settings: Settings) -> SandboxRegistry:
    """Every backend this version has."""
    return SandboxRegistry(
        [
            ContainerBackend(kube, settings.sandbox),
            WasmBackend(store, kube, settings),
            RunnerBackend(store, kube, settings, "process"),
            RunnerBackend(store, kube, settings, "none"),
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
            removed += await backend.deprovision(
                request.ref, activity.heartbeat, request.keep_data_of
            )
        return removed

    def all(self) -> list[Callable[..., Any]]:
        """Every sandbox activity, for the worker."""
        return [self.provision, self.wait_healthy, self.activate, self.deprovision]


class ModuleWorkflowSteps:
    """The steps of ``ModuleWorkflow``: where the target installation runs and its declared
    policy, then its step run: through the module runner's admin port (an SDK module's
    ``@workflow``), or the WASM host's invoke port (a function a WASM module declares)."""

    WASM_STEP_SECONDS = 60
    WASM_STEP_ATTEMPTS = 3

    def __init__(self, settings: Settings) -> None:
        wasm = settings.wasm
        self._runners = RunnerPlacement(settings.runner)
        self._wasm = HostAdmin("the WASM host", wasm.admin_url, wasm.admin_token)
        self._wasm_invoke = wasm.invoke_url.rstrip("/")

    @staticmethod
    def _path(request: ModuleWorkflowRequest) -> str:
        return f"{request.namespace}/{request.installation}/workflows/{request.workflow}"

    async def _in_wasm_host(self, request: ModuleWorkflowRequest) -> bool:
        status, body = await self._wasm.request(
            "GET", f"{request.namespace}/{request.installation}"
        )
        return status == 200 and request.workflow in (body.get("functions") or [])

    @activity.defn(name=ModuleWorkflowActivities.DESCRIBE)
    async def describe(self, request: ModuleWorkflowRequest) -> StepPolicy:
        unreachable: StepError | None = None
        try:
            runner = self._runners.admin(request.namespace)
            status, body = await runner.request("GET", self._path(request))
            if status == 200:
                return StepPolicy.model_validate({**body, "host": "runner"})
        except StepError as error:
            unreachable, body = error, {}
        try:
            if await self._in_wasm_host(request):
                return StepPolicy(
                    timeout_seconds=self.WASM_STEP_SECONDS,
                    max_attempts=self.WASM_STEP_ATTEMPTS,
                    host="wasm",
                )
        except StepError:
            if unreachable is None:
                raise
        if unreachable is not None:
            raise unreachable
        raise StepError(
            r.MODULE_WORKFLOW_UNKNOWN,
            f"{request.namespace}/{request.installation} runs no workflow {request.workflow} "
            f"(the runner: {body.get('message')}; nor is it a function of a WASM module there)",
        )

    @activity.defn(name=ModuleWorkflowActivities.RUN)
    async def run(self, request: ModuleWorkflowRequest) -> Any:
        info = activity.info()
        timeout = info.start_to_close_timeout
        seconds = max(1.0, timeout.total_seconds()) if timeout else 300.0
        if request.host == "wasm":
            return await self._run_in_wasm_host(request, seconds)
        status, body = await self._runners.admin(request.namespace).request(
            "POST", self._path(request), body={"input": request.input}, seconds=seconds + 5
        )
        if status == 404:
            raise StepError(r.MODULE_WORKFLOW_UNKNOWN, str(body.get("message")))
        if status == 422:  # the input does not satisfy the workflow's inputSchema: never retried
            raise StepError(r.MODULE_WORKFLOW_INPUT_INVALID, str(body.get("message")))
        if status != 200:
            raise StepError(
                r.MODULE_WORKFLOW_FAILED,
                f"attempt {info.attempt}: {body.get('reason')}: {body.get('message')}",
            )
        return body.get("output")

    async def _run_in_wasm_host(self, request: ModuleWorkflowRequest, seconds: float) -> Any:
        url = (
            f"{self._wasm_invoke}/v1/tenants/{request.namespace}/installations/"
            f"{request.installation}/invoke/{request.workflow}"
        )
        try:
            async with httpx.AsyncClient(timeout=seconds + 5) as client:
                answer = await client.post(url, json=request.input)
        except httpx.HTTPError as error:
            raise StepError(r.SERVICE_UNAVAILABLE, f"the WASM host: {error}") from None
        body = (
            answer.json()
            if answer.headers.get("content-type", "").startswith("application/json")
            else answer.text
        )
        if answer.status_code == 404:
            raise StepError(r.MODULE_WORKFLOW_UNKNOWN, str(body))
        if answer.status_code != 200:
            attempt = activity.info().attempt
            raise StepError(r.MODULE_WORKFLOW_FAILED, f"attempt {attempt}: {body}")
        return body
