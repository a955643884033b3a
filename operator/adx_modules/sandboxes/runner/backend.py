"""The ``process`` sandbox backend: an installation run by the module runner, in a process of its
own.

Why it exists: it is how the lifecycle's sandbox steps reach the runner (the tenant's own in
a cluster: :mod:`placement` creates it with the tenant's first installation). Provisioning
fetches the module's ``.adx`` package by digest (the worker holds the registry's credentials),
keeps it in PostgreSQL once per digest, writes the installation's row (the package, approved
permissions, configuration, limits) and has the runner start it beside what serves; the health
step waits until the runner says the new revision serves, or why it did not start; activation
turns its routes on or off; deprovisioning stops the process and removes the row, the module's
settings and its storage (and the tenant's runner with its last installation). Every step is an
idempotent row write followed by an admin call, so a retried activity or a restarted runner
converge on the same state.
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
from adx_modules.sandboxes import kept
from adx_modules.sandboxes.backend import Progress
from adx_modules.sandboxes.contract import (
    Endpoint,
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxDescription,
)
from adx_modules.sandboxes.fetched import artifact_bytes
from adx_modules.sandboxes.runner.databases import ModuleDatabases, migration_files
from adx_modules.sandboxes.runner.placement import RunnerPlacement
from adx_modules.sandboxes.runner.records import RunnerRecords, RunnerRegistration
from adx_modules.sandboxes.wasm.capabilities import effective
from adx_modules.sandboxes.wasm.limits import cpu_millicores, memory_bytes

MAX_PACKAGE_BYTES = 64 * 2**20
DEFAULT_MEMORY = 256 * 2**20
DEFAULT_CPU_MILLIS = 500  # as a container sandbox's default limit
RUNTIMES = ("python", "javascript")
# while the runner cannot be reached, its Deployment is applied again this often (in polls): a
# concurrent uninstall of the tenant's last other installation may have just removed it
ENSURE_EVERY_POLLS = 10


def registration(
    ref: InstallationRef,
    spec: ModuleInstallationSpec,
    module: ModuleSpec,
    *,
    isolation: str,
    revision: int,
    digest: str,
    settings: Settings,
) -> RunnerRegistration:
    """One revision as the runner runs it."""
    resources = spec.resources or module.resources
    limits = resources.limits if resources else None
    memory = limits.memory if limits else None
    cpu = limits.cpu if limits else None
    return RunnerRegistration(
        namespace=ref.namespace,
        name=ref.name,
        uid=ref.uid,
        isolation=isolation,
        revision=revision,
        module_id=module.module_id,
        version=module.version,
        runtime=module.runtime,
        digest=digest,
        permissions=tuple(effective(module.permissions, spec.approved_permissions)),
        configuration=dict(spec.configuration or {}),
        limits={
            "memory_bytes": memory_bytes(memory) if memory is not None else DEFAULT_MEMORY,
            # the process's CPU bandwidth (a cpu cgroup, where the runner may make one)
            "cpu_millis": cpu_millicores(cpu) if cpu is not None else DEFAULT_CPU_MILLIS,
            "processes": settings.runner.max_processes,
            "open_files": settings.runner.open_files,
        },
        active=False,
    )


class RunnerBackend:
    """Process isolation (or none, for trusted modules): registrations in PostgreSQL, run by
    the module runner."""

    def __init__(
        self,
        store: Store,
        kube: KubeClient | None,
        settings: Settings,
        isolation: str = "process",
    ) -> None:
        self.isolation = isolation
        self._records = RunnerRecords(store)
        self._artifacts = ArtifactFetcher(settings.registry, kube)
        self._settings = settings
        self._placement = RunnerPlacement(settings.runner, kube)
        self._databases = ModuleDatabases(store, settings.database.url)
        self._store = store

    def _endpoints(self, ref: InstallationRef) -> list[Endpoint]:
        path = f"/v1/tenants/{ref.namespace}/installations/{ref.name}/api"
        return [Endpoint(name="api", url=self._placement.invoke_url(ref.namespace) + path)]

    async def _package(self, module: ModuleSpec) -> tuple[str, bytes]:
        where = f"{module.module_id} {module.version}"
        if module.runtime not in RUNTIMES:
            raise StepError(
                r.ISOLATION_UNAVAILABLE,
                f"spec.isolation: {self.isolation} runs runtime {', '.join(RUNTIMES)} modules; "
                f"{where} is {module.runtime}",
            )
        content, digest = await artifact_bytes(self._artifacts, module, "package", self.isolation)
        if len(content) > MAX_PACKAGE_BYTES or not content.startswith(b"\x1f\x8b"):
            raise StepError(
                r.INVALID_MODULE,
                f"{where}: the artifact is not an .adx package (gzip) of at most "
                f"{MAX_PACKAGE_BYTES} bytes",
            )
        await self._records.store_package(digest, content)
        return digest, content

    async def _migrate(self, ref: InstallationRef, module: ModuleSpec, package: bytes) -> None:
        """The module's own schema made and its migrations applied, before its code runs."""
        declared = module.extension_points.migrations if module.extension_points else []
        if not declared:
            return
        files = migration_files(package, declared)
        await self._databases.ensure(ref.uid, ref.namespace, ref.name)
        await self._databases.migrate(ref.uid, files)

    async def _load(self, ref: InstallationRef) -> dict[str, Any]:
        status, body = await self._placement.admin(ref.namespace).call("PUT", ref)
        if status != 200:
            raise StepError(r.SERVICE_UNAVAILABLE, f"the module runner answered {status}: {body}")
        return body

    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        ref, module = request.ref, request.module
        digest, package = await self._package(module)
        await kept.take_over(self._store.pool, ref.uid, ref.namespace, ref.name, module.module_id)
        await self._migrate(ref, module, package)
        await self._records.register(
            registration(
                ref,
                request.spec,
                module,
                isolation=self.isolation,
                revision=request.revision,
                digest=digest,
                settings=self._settings,
            )
        )
        await self._placement.ensure(ref.namespace)
        await self._load(ref)
        return ProvisionResult(
            objects=[
                ("ModuleProcess", f"{module.module_id}@{digest.removeprefix('sha256:')[:12]}")
            ],
            configuration_hash=configuration_hash(request.spec.configuration),
            endpoints=self._endpoints(ref),
        )

    async def wait_healthy(self, request: HealthRequest, progress: Progress) -> str:
        """Until the runner serves the provisioned revision; its start failure is the answer
        when it does not start."""
        ref = request.ref
        deadline = time.monotonic() + request.timeout_seconds
        problem = "not asked yet"
        polls = 0
        while time.monotonic() < deadline:
            polls += 1
            found = await self._records.registrations(ref.namespace, ref.name)
            if not found:
                raise StepError(r.HEALTH_CHECK_FAILED, "the installation is not registered")
            wanted = found[0]
            try:
                body = await self._load(ref)
            except StepError as unreachable:
                body = {"failure": unreachable.message}
                if polls % ENSURE_EVERY_POLLS == 0:
                    await self._placement.ensure(ref.namespace)
            if body.get("serving") and body.get("revision") == wanted.revision:
                enforced = body.get("enforced") or {}
                return (
                    f"revision {wanted.revision} ({wanted.module_id} {wanted.version}) serves in "
                    f"process {body.get('pid')} (Landlock ABI {enforced.get('landlock_abi', 0)})"
                )
            failure = str(body.get("failure") or "")
            if failure.startswith(f"revision {wanted.revision} did not start"):
                raise StepError(r.HEALTH_CHECK_FAILED, failure)
            problem = failure or "starting"
            progress(f"waiting for the module runner: {problem}")
            await asyncio.sleep(0.5)
        raise StepError(
            r.HEALTH_CHECK_FAILED, f"not serving after {request.timeout_seconds}s: {problem}"
        )

    async def activate(self, ref: InstallationRef, active: bool) -> None:
        if await self._records.set_active(ref.namespace, ref.name, active):
            await self._load(ref)

    async def deprovision(
        self, ref: InstallationRef, progress: Progress, keep_data_of: str | None = None
    ) -> list[str]:
        """Routes off, the process stopped, then the row, settings, storage and database gone
        (kept instead with ``keep_data_of``); the tenant's runner too when nothing else of the
        tenant runs in it."""
        removed = []
        if await self._records.remove(ref.namespace, ref.name, keep_data_of):
            progress("stopping the module's process")
            try:
                await self._load(ref)  # the runner reads the row is gone, stops it, forgets it
            except StepError:
                if self._placement.template is None:
                    raise
                # a tenant runner that cannot be reached is about to be removed, or was
            removed.append(f"ModuleProcess/{ref.name}")
        await self._databases.close(ref.uid)
        removed += [f"ModuleDatabase/{role}" for role in await self._databases.drop_unheld(ref)]
        return removed + await self._placement.release_unused(await self._records.tenants())

    async def describe(self, ref: InstallationRef) -> SandboxDescription:
        found = await self._records.registrations(ref.namespace, ref.name)
        if not found:
            return SandboxDescription(isolation=self.isolation, objects=[])
        return SandboxDescription(
            isolation=self.isolation,
            objects=[f"ModuleProcess/{found[0].module_id}@{found[0].digest}"],
            endpoints=self._endpoints(ref),
        )
