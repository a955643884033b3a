"""The WASM host's work: registrations loaded from PostgreSQL, rolled out, probed, swapped,
drained, and the calls of every tenant's modules run with their limits.

Why it exists: the HTTP layer (:mod:`server`) only translates; what a registration means —
which revision serves, when a new one may take over, what a call may do, how its failure is
counted — is decided here. Registrations are rows, so :meth:`WasmHost.sync` is the only way
state enters: at start, on an admin call, and every ``wasm.sync_seconds``; a host that restarts
comes back to the same state. Calls run in a thread pool (wasm blocks its thread and releases
the GIL), at most ``wasm.max_concurrency`` per installation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from adx_modules.core import metrics
from adx_modules.core.sandbox_settings import WasmSettings
from adx_modules.sandboxes.wasm.capabilities import Capabilities
from adx_modules.sandboxes.wasm.engine import CallFailedError, WasmEngine
from adx_modules.sandboxes.wasm.health import Judgement
from adx_modules.sandboxes.wasm.hostapi import InstallationHostApi, Tenancy
from adx_modules.sandboxes.wasm.hosted import Hosted, Loaded
from adx_modules.sandboxes.wasm.records import Event, Registration, RevisionSpec, WasmRecords

log = logging.getLogger("adx_modules.wasm")

DRAIN_SECONDS = 30.0
TIMED_OUT = {"OutOfFuel", "DeadlineExceeded"}
MAX_GUEST_LOG_LINE = 1024
ON_EVENT = "on_event"  # the export that handles events (docs/wasm.md)


@dataclass(frozen=True)
class Answer:
    """What an invocation answers: an HTTP status and a JSON body."""

    status: int
    body: bytes

    @classmethod
    def error(cls, status: int, reason: str, message: str) -> Answer:
        return cls(status, json.dumps({"reason": reason, "message": message}).encode())


class HostError(Exception):
    """An admin request that cannot be done: an HTTP status, a reason and why."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class WasmHost:
    """Every installation this host serves."""

    def __init__(
        self,
        engine: WasmEngine,
        records: WasmRecords,
        settings: WasmSettings,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._engine = engine
        self._records = records
        self._settings = settings
        self._loop = loop
        self._hosted: dict[str, Hosted] = {}
        self._executor = ThreadPoolExecutor(settings.threads, thread_name_prefix="wasm-call")
        self._http = httpx.Client(follow_redirects=False)
        self._sync_lock = asyncio.Lock()
        self.synced = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    # --- registrations ----------------------------------------------------------------

    async def sync(self, namespace: str | None = None, name: str | None = None) -> None:
        """Bring this host to what the table says (all of it, or one installation)."""
        async with self._sync_lock:
            found = await self._records.registrations(namespace, name)
            keys = {registration.key for registration in found}
            for key in list(self._hosted):
                whole = namespace is None
                if (whole or key == f"{namespace}/{name}") and key not in keys:
                    self._hosted.pop(key).removed = True
            for registration in found:
                await self._apply(registration)
            self._engine.forget(self._digests())
            self.synced = True

    def _digests(self) -> set[str]:
        kept = set()
        for hosted in self._hosted.values():
            for loaded in (hosted.serving, hosted.staged):
                if loaded is not None:
                    kept.add(loaded.compiled.digest)
        return kept

    async def _apply(self, registration: Registration) -> None:
        hosted = self._hosted.get(registration.key)
        if hosted is None or hosted.registration.uid != registration.uid:
            hosted = Hosted(
                registration,
                self._settings.max_concurrency,
                self._settings.http_requests_per_second,
            )
            self._hosted[registration.key] = hosted
        hosted.registration = registration
        try:
            serving = registration.serving
            if serving is not None and (hosted.serving is None or hosted.serving.spec != serving):
                hosted.serving = await self._load(serving)
            desired = registration.desired
            if hosted.serving is not None and hosted.serving.spec == desired:
                hosted.staged = None
            elif hosted.staged is None or hosted.staged.spec != desired:
                hosted.staged = await self._load(desired)
            hosted.load_error = ""
        except CallFailedError as error:
            hosted.load_error = f"{error.reason}: {error.message}"
            log.warning("%s: cannot load: %s", registration.key, hosted.load_error)

    async def _load(self, spec: RevisionSpec) -> Loaded:
        binary = await self._records.binary(spec.digest)
        if binary is None:
            raise CallFailedError("InvalidModule", f"no binary {spec.digest} in the database")
        compiled = await asyncio.to_thread(self._engine.load, spec.digest, binary)
        return Loaded(spec, compiled)

    def _find(self, namespace: str, name: str) -> Hosted:
        hosted = self._hosted.get(f"{namespace}/{name}")
        if hosted is None:
            raise HostError(
                404, "NotRegistered", f"no WASM installation {namespace}/{name} on this host"
            )
        return hosted

    async def load(self, namespace: str, name: str) -> dict[str, Any]:
        """Read one registration and load what it names; its state, or HostError."""
        await self.sync(namespace, name)
        hosted = self._find(namespace, name)
        if hosted.load_error:
            reason, _, message = hosted.load_error.partition(": ")
            raise HostError(422, reason, message)
        return hosted.describe()

    async def ready(self, namespace: str, name: str, revision: int) -> dict[str, Any]:
        """Probe ``revision`` (instantiate it as a call would) and, if it passes, make it the
        one that serves: the atomic swap of an update or a rollback."""
        state = await self.load(namespace, name)
        hosted = self._find(namespace, name)
        desired = hosted.registration.desired
        if desired.revision != revision:
            raise HostError(
                409,
                "RevisionMismatch",
                f"revision {revision} is not the one provisioned ({desired.revision} is)",
            )
        target = hosted.staged if hosted.staged is not None else hosted.serving
        if target is None or target.spec != desired:
            raise HostError(503, "NotLoaded", f"revision {revision} is not loaded yet")
        try:
            await asyncio.to_thread(self._engine.probe, target.compiled, desired.limits)
        except CallFailedError as error:
            raise HostError(422, error.reason, error.message) from None
        if hosted.serving is not target:
            hosted.serving = target  # the swap: new calls take it, calls in flight finish
            hosted.staged = None
            log.info("%s: revision %d (%s) serves", hosted.key, revision, desired.version)
        await self._records.set_serving(namespace, name, revision)
        return {**state, **hosted.describe()}

    async def drain(self, namespace: str, name: str) -> dict[str, Any]:
        """Stop taking calls for the installation, wait for those in flight, forget it."""
        hosted = self._hosted.pop(f"{namespace}/{name}", None)
        if hosted is None:
            return {"drained": 0, "present": False}
        hosted.removed = True
        waited = time.monotonic() + DRAIN_SECONDS
        while hosted.in_flight and time.monotonic() < waited:  # noqa: ASYNC110 - a count, polled
            await asyncio.sleep(0.01)
        return {"drained": hosted.in_flight == 0, "present": True}

    def hosted(self) -> list[Hosted]:
        """Every installation this host serves."""
        return list(self._hosted.values())

    def describe(self, namespace: str | None = None, name: str | None = None) -> Any:
        if namespace is not None and name is not None:
            return self._find(namespace, name).describe()
        return [hosted.describe() for _, hosted in sorted(self._hosted.items())]

    # --- calls ------------------------------------------------------------------------

    async def invoke(self, namespace: str, name: str, function: str, body: bytes) -> Answer:
        hosted = self._hosted.get(f"{namespace}/{name}")
        if hosted is None:
            return Answer.error(
                404, "NotFound", f"no WASM installation {name} in namespace {namespace}"
            )
        serving = hosted.serving
        if not hosted.registration.active or serving is None:
            why = "not active" if serving is not None else "not ready yet"
            return Answer.error(503, "NotActive", f"installation {namespace}/{name} is {why}")
        spec = serving.spec
        if function not in spec.functions:
            declared = ", ".join(spec.functions) or "none"
            return Answer.error(
                404,
                "FunctionNotDeclared",
                f"{spec.module_id} {spec.version} declares no function {function!r} "
                f"(declared: {declared})",
            )
        if len(body) > spec.limits.max_input_bytes:
            return Answer.error(
                413, "RequestTooLarge", f"the request is over {spec.limits.max_input_bytes} bytes"
            )
        try:
            request = json.loads(body) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return Answer.error(400, "BadRequest", f"the request body is not JSON: {error}")
        if not hosted.take_slot():
            return Answer.error(
                429,
                "TooManyCalls",
                f"{hosted.max_concurrency} calls are in flight for {namespace}/{name}; retry",
            )
        payload = json.dumps({"function": function, "input": request}).encode()
        try:
            return await self._call(hosted, serving, function, payload)
        finally:
            hosted.release_slot()

    def reported(self) -> list[WasmReported]:
        """Every installation, as the health reporter judges it (on its latest calls)."""
        return [WasmReported(hosted) for hosted in self.hosted()]

    def subscribers(self) -> list[WasmSubscriber]:
        """The installations whose serving module exports ``on_event``."""
        return [
            WasmSubscriber(self, hosted)
            for hosted in self.hosted()
            if hosted.serving is not None and ON_EVENT in hosted.serving.compiled.exports
        ]

    async def deliver(self, hosted: Hosted, event: Event) -> bool | None:
        """Hand ``event`` to the installation's ``on_event``: whether it handled it, or None
        when it cannot take one now (inactive, no free slot: ask again later)."""
        serving = hosted.serving
        if not hosted.registration.active or serving is None or not hosted.take_slot():
            return None
        payload = json.dumps(
            {"id": event.id, "topic": event.topic, "payload": event.payload, "source": event.source}
        ).encode()
        try:
            answer = await self._call(hosted, serving, ON_EVENT, payload, export=ON_EVENT)
        finally:
            hosted.release_slot()
        if answer.status != 200:
            return False
        said = json.loads(answer.body)  # JSON: _call checked it
        return not (isinstance(said, dict) and "error" in said)  # {"error"}: not handled

    async def _call(
        self, hosted: Hosted, serving: Loaded, function: str, payload: bytes, export: str = "handle"
    ) -> Answer:
        spec, registration = serving.spec, hosted.registration
        api = InstallationHostApi(
            Tenancy(
                uid=registration.uid,
                namespace=registration.namespace,
                name=registration.name,
                configuration=spec.configuration,
                capabilities=Capabilities(spec.permissions),
                quota_bytes=self._settings.storage_quota_bytes,
            ),
            self._records,
            self._loop,
            self._http,
            hosted.bucket,
        )
        labels = (registration.namespace, registration.name, function)
        started = time.perf_counter()
        try:
            result = await self._loop.run_in_executor(
                self._executor,
                self._engine.call,
                serving.compiled,
                payload,
                spec.limits,
                api,
                export,
            )
            json.loads(result.output)
        except CallFailedError as error:
            return self._failed(hosted, labels, started, error.reason, error.message)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._failed(hosted, labels, started, "BadOutput", "the answer is not JSON")
        seconds = time.perf_counter() - started
        hosted.health.succeeded(seconds, result.fuel_used, result.memory_bytes)
        metrics.MODULE_EXECUTION_SECONDS.labels(*labels, "ok").observe(seconds)
        usage = metrics.MODULE_RESOURCE_USAGE
        usage.labels(*labels[:2], "fuel").set(result.fuel_used)
        usage.labels(*labels[:2], "memory_bytes").set(result.memory_bytes)
        for line in result.logs:
            log.info("%s: %s", hosted.key, line[:MAX_GUEST_LOG_LINE])
        return Answer(200, result.output)

    def _failed(
        self,
        hosted: Hosted,
        labels: tuple[str, str, str],
        started: float,
        reason: str,
        message: str,
    ) -> Answer:
        seconds = time.perf_counter() - started
        hosted.health.failed(seconds, reason, message)
        metrics.MODULE_EXECUTION_SECONDS.labels(*labels, reason).observe(seconds)
        return Answer.error(504 if reason in TIMED_OUT else 502, reason, message)


class WasmSubscriber:
    """A WASM installation as the event dispatcher sees it."""

    def __init__(self, host: WasmHost, hosted: Hosted) -> None:
        self._host = host
        self._hosted = hosted
        registration = hosted.registration
        self.key, self.namespace, self.name = hosted.key, registration.namespace, registration.name
        assert hosted.serving is not None  # noqa: S101 - only serving modules subscribe
        self.capabilities = Capabilities(hosted.serving.spec.permissions)

    async def deliver(self, event: Event) -> bool | None:
        return await self._host.deliver(self._hosted, event)

    def gave_up(self, message: str) -> None:
        health = self._hosted.health
        health.last_error = f"{message}: {health.last_error}"
        log.warning("%s: %s", self.key, health.last_error)


class WasmReported:
    """A WASM installation as the health reporter sees it."""

    def __init__(self, hosted: Hosted) -> None:
        registration = hosted.registration
        self._hosted = hosted
        self.key, self.namespace, self.name = hosted.key, registration.namespace, registration.name
        self.uid = registration.uid
        self.isolation = "wasm"

    def usage(self) -> dict[str, Any]:
        """Its calls since the host started: how many, failures, fuel burnt (executed
        instructions: its CPU), the largest linear memory a call grew to, latencies."""
        summary = self._hosted.health.summary()
        return {
            "calls": summary["calls"],
            "failures": sum(summary["failures"].values()),
            "fuel_used": summary["fuelUsed"],
            "peak_memory_bytes": summary["peakMemoryBytes"],
            "latency_ms": summary["latencyMs"],
        }

    def judged(self) -> Judgement | None:
        return self._hosted.health.condition()
