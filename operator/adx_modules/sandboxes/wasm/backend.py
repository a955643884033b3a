"""The ``wasm`` sandbox backend: an installation registered with the shared WASM host.

Why it exists: it is how the lifecycle's four sandbox steps reach the host. Provisioning fetches
the module's binary by digest (the worker holds the registry's credentials and mirrors), keeps
it in PostgreSQL once per digest, writes the installation's revision (module, functions,
approved permissions, configuration, limits) and has the host load and compile it beside what
serves; the health step has the host probe it and make it serve (the atomic swap of an update or
a rollback); activation turns calls on or off; deprovisioning turns them off, drains the calls
in flight and removes the registration and the module's storage. Every step is an idempotent
row write followed by an admin call that makes the host read the row, so a retried activity, a
restarted host or a second host replica converge on the same state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.artifacts import ArtifactFetcher
from adx_modules.catalog.configuration import configuration_hash
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef
from adx_modules.core.settings import Settings
from adx_modules.sandboxes import kept, owned
from adx_modules.sandboxes.admin_http import HostAdmin
from adx_modules.sandboxes.backend import Progress
from adx_modules.sandboxes.container import manifests
from adx_modules.sandboxes.contract import (
    Endpoint,
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxDescription,
)
from adx_modules.sandboxes.fetched import artifact_bytes
from adx_modules.sandboxes.wasm.capabilities import effective
from adx_modules.sandboxes.wasm.engine import MAX_MODULE_BYTES
from adx_modules.sandboxes.wasm.limits import CallLimits
from adx_modules.sandboxes.wasm.records import LimitReachedError, RevisionSpec, WasmRecords

WASM_MAGIC = b"\0asm"


def functions(module: ModuleSpec) -> tuple[str, ...]:
    """What may be invoked: the workflows and API paths the module declares, nothing else."""
    points = module.extension_points
    if points is None:
        return ()
    names = [*points.workflows, *(api.path.strip("/") for api in points.api)]
    return tuple(dict.fromkeys(name for name in names if name))


def revision_spec(
    spec: ModuleInstallationSpec, module: ModuleSpec, revision: int, digest: str
) -> RevisionSpec:
    """One revision as the host runs it."""
    return RevisionSpec(
        revision=revision,
        module_id=module.module_id,
        version=module.version,
        digest=digest,
        functions=functions(module),
        permissions=tuple(effective(module.permissions, spec.approved_permissions)),
        configuration=dict(spec.configuration or {}),
        limits=CallLimits.of(spec.resources or module.resources),
    )


class WasmBackend:
    """WASM isolation: registrations in PostgreSQL, served by the shared WASM host."""

    isolation = "wasm"

    def __init__(self, store: Store, kube: KubeClient | None, settings: Settings) -> None:
        self._records = WasmRecords(store)
        self._store = store
        self._kube = kube  # None: no cluster (the host's own tests): no Service is made
        self._artifacts = ArtifactFetcher(settings.registry, kube)
        self._settings = settings
        self._admin = HostAdmin("the WASM host", settings.wasm.admin_url, settings.wasm.admin_token)

    def _endpoints(self, ref: InstallationRef) -> list[Endpoint]:
        """The host's own URL, and (with a cluster) the installation's Service in its
        namespace."""
        path = f"/v1/tenants/{ref.namespace}/installations/{ref.name}/invoke"
        found = [Endpoint(name="invoke", url=self._settings.wasm.invoke_url.rstrip("/") + path)]
        if self._kube is not None:
            service = f"{manifests.object_name(ref)}.{ref.namespace}.svc"
            port = self._settings.wasm.invoke_port
            found.append(Endpoint(name="service", url=f"http://{service}:{port}{path}"))
        return found

    def _service(self, ref: InstallationRef, module: ModuleSpec) -> dict[str, Any]:
        """``mod-<name>``: an ExternalName Service for the host, owned by the installation, so
        the tenant's pods reach their module by a name of their own namespace."""
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": manifests.object_name(ref),
                "namespace": ref.namespace,
                "labels": manifests.labels(ref, module),
                "ownerReferences": [manifests.owner_reference(ref)],
            },
            "spec": {
                "type": "ExternalName",
                "externalName": self._settings.wasm.service_host,
                "ports": [
                    {"name": "invoke", "port": self._settings.wasm.invoke_port, "protocol": "TCP"}
                ],
            },
        }

    async def _binary(self, module: ModuleSpec) -> str:
        """Fetch the module's .wasm by digest into the host's table; its sha256 digest."""
        binary, digest = await artifact_bytes(self._artifacts, module, "wasm", self.isolation)
        if not binary.startswith(WASM_MAGIC) or len(binary) > MAX_MODULE_BYTES:
            raise StepError(
                r.INVALID_MODULE,
                f"{module.module_id} {module.version}: the artifact is not a WebAssembly module "
                f"of at most {MAX_MODULE_BYTES} bytes",
            )
        await self._records.store_binary(digest, binary)
        return digest

    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        ref, module = request.ref, request.module
        service = manifests.object_name(ref)
        if self._kube is not None:  # a clash is found before anything is written
            await owned.existing(self._kube, ref, "Service", service)
        digest = await self._binary(module)
        spec = revision_spec(request.spec, module, request.revision, digest)
        await kept.take_over(self._store.pool, ref.uid, ref.namespace, ref.name, module.module_id)
        try:
            await self._records.register(
                ref.namespace, ref.name, ref.uid, spec, self._settings.sandbox.max_sandboxes
            )
        except LimitReachedError as error:
            raise StepError(
                r.SANDBOX_LIMIT_REACHED,
                f"{error}, and sandbox.max_sandboxes is {self._settings.sandbox.max_sandboxes}: "
                "uninstall a module or raise the setting",
            ) from None
        status, body = await self._admin.call("PUT", ref)
        if status == 422:
            raise StepError(r.INVALID_MODULE, f"{body.get('reason')}: {body.get('message')}")
        if status != 200:
            raise StepError(r.SERVICE_UNAVAILABLE, f"the WASM host answered {status}: {body}")
        objects = [("WasmModule", f"{module.module_id}@{digest.removeprefix('sha256:')[:12]}")]
        if self._kube is not None:
            await self._kube.apply(self._service(ref, module))
            objects.append(("Service", service))
        return ProvisionResult(
            objects=objects,
            configuration_hash=configuration_hash(request.spec.configuration),
            endpoints=self._endpoints(ref),
        )

    async def wait_healthy(self, request: HealthRequest, progress: Progress) -> str:
        """Until the host has probed the provisioned revision and made it serve."""
        ref = request.ref
        deadline = time.monotonic() + request.timeout_seconds
        problem = "not asked yet"
        while time.monotonic() < deadline:
            found = await self._records.registrations(ref.namespace, ref.name)
            if not found:
                raise StepError(r.HEALTH_CHECK_FAILED, "the installation is not registered")
            desired = found[0].desired
            try:
                status, body = await self._admin.call(
                    "POST", ref, "/ready", revision=desired.revision
                )
            except StepError as unreachable:
                status, body = 0, {"message": unreachable.message}
            if status == 200:
                return (
                    f"revision {desired.revision} ({desired.module_id} {desired.version}) "
                    "passed its probe in the WASM host and serves"
                )
            if status == 422:
                raise StepError(
                    r.HEALTH_CHECK_FAILED,
                    f"the module failed its probe: {body.get('reason')}: {body.get('message')}",
                )
            problem = str(body.get("message") or status)
            progress(f"waiting for the WASM host: {problem}")
            await asyncio.sleep(0.5)
        raise StepError(
            r.HEALTH_CHECK_FAILED,
            f"not serving after {request.timeout_seconds}s: {problem}",
        )

    async def activate(self, ref: InstallationRef, active: bool) -> None:
        if await self._records.set_active(ref.namespace, ref.name, active):
            status, body = await self._admin.call("PUT", ref)
            if status not in (200, 422):  # 422: it cannot load, which health has said already
                raise StepError(r.SERVICE_UNAVAILABLE, f"the WASM host answered {status}: {body}")

    async def deprovision(
        self, ref: InstallationRef, progress: Progress, keep_data_of: str | None = None
    ) -> list[str]:
        """Its Service gone, calls off, the calls in flight drained, then the registration
        and its storage gone (the storage kept instead with ``keep_data_of``)."""
        removed = []
        service = manifests.object_name(ref)
        if self._kube is not None and await owned.delete(self._kube, ref, "Service", service):
            removed.append(f"Service/{service}")
        if not await self._records.set_active(ref.namespace, ref.name, False):
            return removed
        progress("draining the calls in flight")
        await self._admin.call("PUT", ref)
        await self._admin.call("DELETE", ref)
        await self._records.remove(ref.namespace, ref.name, keep_data_of)
        await self._admin.call("PUT", ref)  # the host reads the row is gone, and forgets it
        return [*removed, f"WasmModule/{ref.name}"]

    async def describe(self, ref: InstallationRef) -> SandboxDescription:
        found = await self._records.registrations(ref.namespace, ref.name)
        if not found:
            return SandboxDescription(isolation=self.isolation, objects=[])
        desired = found[0].desired
        return SandboxDescription(
            isolation=self.isolation,
            objects=[f"WasmModule/{desired.module_id}@{desired.digest}"],
            endpoints=self._endpoints(ref),
        )
