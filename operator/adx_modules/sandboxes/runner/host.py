"""The runner's modules: which process serves each installation, kept in line with the rows.

Why it exists: the rows (:mod:`records`) say what should run; this makes it so. A new revision is
started beside the one that serves and replaces it only once it has started (an update that
fails to start leaves the old code serving, and says why); a process that ends on its own is
started again with growing pauses; a call is routed to the handler the module registered for the
path and method. ``describe`` tells the worker and the health report what runs and what the
kernel enforces for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from adx_modules.catalog.configuration import value_problems
from adx_modules.core.sandbox_settings import RunnerSettings
from adx_modules.sandboxes.runner import cgroups
from adx_modules.sandboxes.runner.bridge import Database, HostBridge
from adx_modules.sandboxes.runner.children import Launch, ModuleCallError, ModuleProcess, Started
from adx_modules.sandboxes.runner.databases import ModuleDatabases
from adx_modules.sandboxes.runner.flows import WorkflowStarter
from adx_modules.sandboxes.runner.packages import unpack_read_only, unpacked_code
from adx_modules.sandboxes.runner.records import RunnerRecords, RunnerRegistration
from adx_modules.sandboxes.runner.state import (
    FAILING_WINDOW,
    Answer,
    RunnerError,
    Running,
    declared_workflow,
)
from adx_modules.sandboxes.runner.trusted import TrustedModule
from adx_modules.sandboxes.runner.views import RunnerReported, RunnerSubscriber
from adx_modules.sandboxes.wasm.capabilities import Capabilities
from adx_modules.sandboxes.wasm.hostapi import InstallationHostApi, Tenancy, TokenBucket
from adx_modules.sandboxes.wasm.records import WasmRecords

LOG = logging.getLogger("adx_modules.runner")
MAX_BACKOFF = 30.0


class RunnerHost:
    """Every installation this runner serves."""

    def __init__(
        self,
        records: RunnerRecords,
        host_records: WasmRecords,
        settings: RunnerSettings,
        *,
        work_dir: Path | None = None,
        trusted: frozenset[str] = frozenset(),
        workflows: WorkflowStarter | None = None,
        databases: ModuleDatabases | None = None,
    ) -> None:
        self._records = records
        self._databases = databases
        self._host_records = host_records
        self._settings = settings
        self._trusted = trusted
        self._tenant = settings.tenant or None
        self._workflows = workflows
        self._owned_dir = work_dir is None
        self._dir = (work_dir or Path(tempfile.mkdtemp(prefix="adx-runner-"))).resolve()
        self._dir.mkdir(parents=True, exist_ok=True)
        self._running: dict[str, Running] = {}
        self._http = httpx.Client(follow_redirects=False)
        # the cgroups of one runner's modules: named by its work directory, so a runner that
        # was killed and started again finds (and ends) what it left
        self._group = "adx-runner-" + hashlib.sha256(str(self._dir).encode()).hexdigest()[:12]
        swept = cgroups.sweep(self._group)
        if swept:
            LOG.warning("ended %d module processes a previous runner left", swept)
        self.synced = False

    # --- what should run -------------------------------------------------------------

    async def sync(self) -> None:
        """Converge on every row: start, swap or restart what should run, stop what should not."""
        wanted = {r.key: r for r in await self._records.registrations(self._tenant)}
        for key in [k for k in self._running if k not in wanted]:
            await self._stop(key)
        for registration in wanted.values():
            await self.ensure(registration)
        self.synced = True

    async def load(self, namespace: str, name: str) -> dict[str, Any]:
        """Converge on one row now (the worker's admin call after writing it)."""
        if self._tenant and namespace != self._tenant:
            raise RunnerError(
                404,
                "OtherTenant",
                f"this runner serves tenant {self._tenant} only, not {namespace}",
            )
        found = await self._records.registrations(namespace, name)
        if not found:
            await self._stop(f"{namespace}/{name}")
            return {"loaded": False}
        await self.ensure(found[0])
        described: dict[str, Any] = self.describe(namespace, name)
        return described

    async def ensure(self, registration: RunnerRegistration) -> None:
        running = self._running.setdefault(registration.key, Running(registration))
        async with running.lock:
            alive = running.process is not None and running.process.running
            current = running.registration
            if alive and (current.uid, current.revision, current.digest) == (
                registration.uid,
                registration.revision,
                registration.digest,
            ):
                running.registration = registration  # e.g. active turned on or off
                return
            # until the new revision starts, the old one serves, switched on or off as told
            running.registration = dataclasses.replace(current, active=registration.active)
            if (
                registration.revision == running.failed_revision
                and time.monotonic() < running.next_try
            ):
                return  # failed to start a moment ago: wait before trying again
            await self._start(running, registration)

    async def _start(self, running: Running, registration: RunnerRegistration) -> None:
        """Start ``registration`` beside what serves; swap when it has started."""
        groups: cgroups.ModuleCgroups | None = None
        process: ModuleProcess | TrustedModule
        try:
            package = await self._package(registration.digest)
            bridge = HostBridge(
                self._host_api(registration),
                lambda key, value: self._set_setting(registration, key, value),
                (registration.namespace, registration.name),
                workflows=self._workflows,
                input_problems=lambda target, workflow, given: self.input_problems(
                    registration.namespace, target, workflow, given
                ),
                database=self._database_of(registration.uid),
            )
            if registration.isolation == "none":
                if registration.runtime != "python":
                    raise RunnerError(
                        422, "InvalidModule", "isolation none runs python modules only"
                    )
                if registration.module_id not in self._trusted:
                    raise RunnerError(
                        403,
                        "ModuleNotTrusted",
                        f"{registration.module_id} is not in sandbox.trusted_modules: it may "
                        "not run unconfined",
                    )
                process = TrustedModule(self._launch(registration, package, None), bridge)
            else:
                groups = cgroups.create(
                    self._group,
                    f"{registration.namespace}.{registration.name}.{registration.revision}."
                    f"{running.restarts}",
                    int(registration.limits.get("processes", self._settings.max_processes)),
                    registration.limits.get("cpu_millis"),
                )
                process = ModuleProcess(self._launch(registration, package, groups), bridge)
            started = await process.start(self._settings.start_timeout_seconds)
        except (ModuleCallError, RunnerError, OSError) as error:
            message = getattr(error, "message", str(error))
            if groups is not None:
                cgroups.kill_all(groups)
                cgroups.remove(groups)
            pause = min(MAX_BACKOFF, 2.0 ** min(running.restarts, 5))
            running.failure = f"revision {registration.revision} did not start: {message}"
            running.failed_revision = registration.revision
            running.next_try = time.monotonic() + pause
            running.restarts += 1
            LOG.warning("%s: %s", registration.key, running.failure)
            return
        old, old_groups, old_uid = running.process, running.cgroups, running.registration.uid
        running.process, running.started, running.cgroups = process, started, groups
        running.registration, running.failure, running.failed_revision = registration, "", 0
        LOG.info(
            "%s: revision %d serving (pid %d, %d routes)",
            registration.key,
            registration.revision,
            started.pid,
            len(started.routes),
        )
        if old is not None:
            await self._end(old, old_groups)
        if old_uid != registration.uid:  # another installation of that name: its files go
            shutil.rmtree(self._dir / "work" / registration.key / old_uid, ignore_errors=True)

    async def _end(
        self, process: ModuleProcess | TrustedModule, groups: cgroups.ModuleCgroups | None
    ) -> None:
        await process.stop()
        if groups is not None:
            cgroups.kill_all(groups)
            await asyncio.sleep(0.05)
            cgroups.remove(groups)

    def _database_of(self, uid: str) -> Database | None:
        databases = self._databases
        if databases is None:
            return None

        async def query(sql: str, params: list[Any]) -> list[dict[str, Any]]:
            return await databases.query(uid, sql, params)

        return query

    def _launch(
        self,
        registration: RunnerRegistration,
        package: Path,
        groups: cgroups.ModuleCgroups | None,
    ) -> Launch:
        readable = [
            p.split(":", 2)[2] for p in registration.permissions if p.startswith("file:read:")
        ]
        writable = [
            p.split(":", 2)[2] for p in registration.permissions if p.startswith("file:write:")
        ]
        return Launch(
            package=package,
            # by uid: a later installation of the same name never finds an earlier one's files
            workdir=self._dir
            / "work"
            / registration.namespace
            / registration.name
            / registration.uid,
            identity={
                "module": registration.module_id,
                "version": registration.version,
                "tenant": registration.namespace,
                "installation": registration.name,
            },
            config=registration.configuration,  # merged with the module's own in start()
            limits={
                "memory_bytes": int(registration.limits.get("memory_bytes", 256 * 2**20)),
                "processes": int(
                    registration.limits.get("processes", self._settings.max_processes)
                ),
                "open_files": int(registration.limits.get("open_files", self._settings.open_files)),
            },
            readable=tuple(readable),
            writable=tuple(writable),
            pids_cgroup=str(groups.pids) if groups and groups.pids else None,
            cpu_cgroup=str(groups.cpu) if groups and groups.cpu else None,
            runtime=registration.runtime,
        )

    def _host_api(self, registration: RunnerRegistration) -> InstallationHostApi:
        tenancy = Tenancy(
            uid=registration.uid,
            namespace=registration.namespace,
            name=registration.name,
            configuration=registration.configuration,
            capabilities=Capabilities(registration.permissions),
            quota_bytes=self._settings.storage_quota_bytes,
        )
        return InstallationHostApi(
            tenancy,
            self._host_records,
            asyncio.get_running_loop(),
            self._http,
            TokenBucket(self._settings.http_requests_per_second),
        )

    async def _set_setting(self, registration: RunnerRegistration, key: str, value: Any) -> Any:
        await self._records.set_setting(registration.uid, key, value)
        return {**await self._records.settings(registration.uid), **registration.configuration}

    async def _package(self, digest: str) -> Path:
        """The package unpacked once per digest, read-only; its code directory."""
        code = unpacked_code(self._dir / "packages", digest)
        if code is None:
            content = await self._records.package(digest)
            if content is None:
                raise RunnerError(404, "PackageNotFound", f"no package {digest} is stored")
            code = unpack_read_only(content, self._dir / "packages", digest)
        return code

    async def _stop(self, key: str) -> None:
        running = self._running.pop(key, None)
        if running is None:
            return
        async with running.lock:
            if running.process is not None:
                await self._end(running.process, running.cgroups)
        if self._databases is not None:
            await self._databases.close(running.registration.uid)
        shutil.rmtree(self._dir / "work" / key, ignore_errors=True)

    async def revive(self) -> None:
        """Start again what ended on its own (a crash, a deadline), with growing pauses."""
        for running in list(self._running.values()):
            process = running.process
            if process is None or process.running or time.monotonic() < running.next_try:
                continue
            running.last_exit = process.ended() or "it ended"
            now = time.monotonic()
            running.exits = [t for t in running.exits if now - t < FAILING_WINDOW] + [now]
            running.restarts += 1
            running.next_try = time.monotonic() + min(MAX_BACKOFF, 2.0 ** min(running.restarts, 5))
            async with running.lock:
                await self._start(running, running.registration)

    def reported(self) -> list[RunnerReported]:
        """Every installation that has served, as the health reporter judges it."""
        return [RunnerReported(r) for r in self._running.values() if r.started is not None]

    def subscribers(self) -> list[RunnerSubscriber]:
        """The installations whose serving module subscribes to events."""
        return [
            RunnerSubscriber(self._settings.request_timeout_seconds, running)
            for running in self._running.values()
            if running.started is not None and running.started.subscriptions
        ]

    # --- calls -----------------------------------------------------------------------

    async def invoke(
        self, namespace: str, name: str, method: str, path: str, request: dict[str, Any]
    ) -> Answer:
        running = self._running.get(f"{namespace}/{name}")
        if running is None or running.started is None:
            raise RunnerError(404, "NotFound", f"no module runs for {namespace}/{name}")
        if not running.registration.active:
            raise RunnerError(503, "NotActive", f"{namespace}/{name} is not active")
        routes = [r for r in running.started.routes if r["path"] == path]
        if not routes:
            raise RunnerError(404, "NoSuchRoute", f"{namespace}/{name} serves no route {path}")
        handler = next((r["handler"] for r in routes if method in r["methods"]), None)
        if handler is None:
            allowed = sorted({m for r in routes for m in r["methods"]})
            raise RunnerError(405, "MethodNotAllowed", f"{path} answers {', '.join(allowed)}")
        assert running.process is not None  # noqa: S101 - started implies a process
        try:
            answer = await running.process.call(
                "request",
                {"handler": handler, "request": {**request, "method": method, "path": path}},
                self._settings.request_timeout_seconds,
                what=f"{method} {path}",
            )
        except ModuleCallError as error:
            status = 504 if error.reason == "DeadlineExceeded" else 502
            raise RunnerError(status, error.reason, error.message) from None
        return Answer(int(answer["status"]), answer.get("body"), dict(answer.get("headers") or {}))

    def _serving(self, namespace: str, name: str) -> tuple[Running, Started]:
        running = self._running.get(f"{namespace}/{name}")
        if running is None or running.started is None or running.process is None:
            raise RunnerError(404, "NotFound", f"no module runs for {namespace}/{name}")
        return running, running.started

    def _declared(self, namespace: str, name: str, workflow: str) -> dict[str, Any]:
        """What the module declares for ``workflow``: timeout, attempts, schemas."""
        _, started = self._serving(namespace, name)
        return declared_workflow(started, f"{namespace}/{name}", workflow)

    def workflow_policy(self, namespace: str, name: str, workflow: str) -> dict[str, Any]:
        """The timeout and attempts the module declares for ``workflow``."""
        declared = self._declared(namespace, name, workflow)
        return {k: declared[k] for k in ("timeout_seconds", "max_attempts")}

    def input_problems(self, namespace: str, name: str, workflow: str, given: Any) -> list[str]:
        """Why ``given`` is no input of ``workflow`` (its inputSchema); nothing to say when the
        installation is not served here (a WASM module's, another runner's: its step checks)."""
        if f"{namespace}/{name}" not in self._running:
            return []
        try:
            declared = self._declared(namespace, name, workflow)
        except RunnerError:
            return []
        return value_problems(declared.get("input_schema"), given, "input")

    async def run_workflow(self, namespace: str, name: str, workflow: str, given: Any) -> Any:
        """One attempt of the workflow's step, within its declared timeout; its input and its
        result held to the declared schemas."""
        declared = self._declared(namespace, name, workflow)
        problems = value_problems(declared.get("input_schema"), given, "input")
        if problems:
            raise RunnerError(422, "ModuleWorkflowInputInvalid", "; ".join(problems))
        running, _ = self._serving(namespace, name)
        assert running.process is not None  # noqa: S101 - _serving checked it
        try:
            result = await running.process.call(
                "workflow",
                {"name": workflow, "input": given},
                float(declared["timeout_seconds"]),
                what=f"workflow {workflow}",
            )
        except ModuleCallError as error:
            status = 504 if error.reason == "DeadlineExceeded" else 502
            raise RunnerError(status, error.reason, error.message) from None
        problems = value_problems(declared.get("output_schema"), result, "output")
        if problems:
            raise RunnerError(
                502,
                "ModuleWorkflowOutputInvalid",
                "the step's result does not satisfy its outputSchema: " + "; ".join(problems),
            )
        return result

    def describe(self, namespace: str | None = None, name: str | None = None) -> Any:
        if namespace is None:
            return [self.describe(*key.split("/", 1)) for key in sorted(self._running)]
        running = self._running.get(f"{namespace}/{name}")
        if running is None:
            return {"namespace": namespace, "name": name, "loaded": False}
        return running.describe()

    async def close(self) -> None:
        for key in list(self._running):
            await self._stop(key)
        self._http.close()
        if self._owned_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
