"""The WASM engine: one wasmtime Engine, modules compiled once per digest, a fresh Store per call
with hard limits, and guest ABI v1.

Why it exists: every tenant's WASM modules run in one shared host, so no guest may take the host
or a neighbour down. Each call gets its own Store (nothing survives between calls, no object is
shared across stores), fuel for its CPU share, an epoch deadline for its wall clock, a memory
limit, WASI with nothing granted (no files, no environment, no clock beyond WASI's own), and
only the host functions of the ``adx`` namespace (:mod:`abi`). A trap, a runaway loop, a memory
hog, an oversized answer or host-call abuse ends that call with a :class:`CallFailedError`
naming why; the engine goes on. Compiled modules are cached by digest in memory and on disk
(``serialize``), and pre-linked once (``instantiate_pre``), so a call starts in tens of µs and
a host restart does not compile again. Blocking (wasm runs in the calling thread, which
releases the GIL): async callers use a thread.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from adx_modules.api.wasm_abi import GUEST_EXPORTS, WASI
from adx_modules.sandboxes.wasm import abi
from adx_modules.sandboxes.wasm.limits import CallLimits

EPOCH_TICK_MS = 10
# compiled modules depend on the engine's settings: a change of them here gets a new folder
ENGINE_CONFIGURATION = "1-res64m"
MAX_MODULE_BYTES = 64 * 2**20


class CallFailedError(Exception):
    """A call ended without an answer: ``reason`` (stable, CamelCase) and what happened."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass
class CallResult:
    """The guest's answer, what it logged, the fuel it burnt and the memory it grew to."""

    output: bytes
    logs: list[str] = field(default_factory=list)
    fuel_used: int = 0
    memory_bytes: int = 0


@dataclass(frozen=True)
class Compiled:
    """A module compiled and linked against this engine's host functions: ready to run."""

    digest: str
    module: wasmtime.Module
    pre: wasmtime.InstancePre
    wasi: bool
    """Whether it imports WASI at all (a Store without WASI is quicker to make)."""
    exports: frozenset[str]
    """What it exports (``on_event``: it handles events)."""


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    # a 64 MiB reservation per memory, not wasmtime's 4 GiB + 2 GiB guard: every call maps
    # (and unmaps) one, and the smaller one halves the slow tail of instantiation (p99 ~65 µs
    # instead of ~105 µs here); bounds checks become explicit, and a memory that grows past it
    # moves
    config.memory_reservation = 64 * 2**20
    config.memory_guard_size = 64 * 2**10
    return wasmtime.Engine(config)


class WasmEngine:
    """Compiles, caches and runs modules; one per host process."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.engine = _engine()
        self._linker = wasmtime.Linker(self.engine)
        self._linker.define_wasi()
        abi.define(self._linker)
        base = cache_dir or Path(tempfile.gettempdir(), "adx-wasm-cache")
        self._cache_dir = base / ENGINE_CONFIGURATION
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        self._compiled: dict[str, Compiled] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="wasm-epoch", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        """The wall clock of every call: the epoch moves every tick; a call's deadline is a
        number of ticks."""
        while not self._stop.wait(EPOCH_TICK_MS / 1000):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()

    def forget(self, keep: set[str]) -> None:
        """Drop the compiled modules of digests not in ``keep`` from memory (disk stays)."""
        with self._lock:
            for digest in set(self._compiled) - keep:
                del self._compiled[digest]

    def load(self, digest: str, binary: bytes) -> Compiled:
        """The compiled module of ``binary``, which must hash to ``digest`` (sha256:…):
        from memory, from the disk cache, or compiled now (then cached), and linked."""
        if f"sha256:{hashlib.sha256(binary).hexdigest()}" != digest:
            raise CallFailedError("InvalidModule", f"the binary does not match {digest}")
        with self._lock:
            compiled = self._compiled.get(digest)
            if compiled is not None:
                return compiled
            cached = self._cache_dir / f"{digest.removeprefix('sha256:')}.cwasm"
            module = self._cached(cached)
            if module is None:
                module = self._compile(binary, digest)
                scratch = cached.with_suffix(f".{os.getpid()}.tmp")
                scratch.write_bytes(module.serialize())
                scratch.replace(cached)  # atomic: a reader sees all of it or nothing
            try:
                pre = self._linker.instantiate_pre(module)
            except wasmtime.WasmtimeError as error:
                raise CallFailedError("LinkFailed", _first_line(error)) from None
            wasi = any(item.module == WASI for item in module.imports)
            exports = frozenset(item.name for item in module.exports)
            compiled = Compiled(digest, module, pre, wasi, exports)
            self._compiled[digest] = compiled
            return compiled

    def _cached(self, path: Path) -> wasmtime.Module | None:
        """The module compiled earlier, if its file is there and fits this engine (another
        wasmtime version refuses it: then it is compiled again). Read into memory, not mapped:
        a mapped file that something truncates would kill the host with SIGBUS."""
        try:
            return wasmtime.Module.deserialize(self.engine, path.read_bytes())
        except (OSError, wasmtime.WasmtimeError):
            return None

    def _compile(self, binary: bytes, digest: str) -> wasmtime.Module:
        if len(binary) > MAX_MODULE_BYTES:
            raise CallFailedError(
                "InvalidModule", f"{digest}: larger than {MAX_MODULE_BYTES} bytes"
            )
        try:
            return wasmtime.Module(self.engine, binary)
        except wasmtime.WasmtimeError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
            raise CallFailedError("InvalidModule", f"{digest}: {first}") from None

    def probe(self, compiled: Compiled, limits: CallLimits) -> None:
        """Instantiate once, as a call would, and check the ABI's exports: what a health check
        asks before traffic moves to a module."""
        abi.enter(abi.CallContext(None, limits, time.monotonic() + limits.deadline_ms / 1000))
        try:
            store, instance = self.instantiate(compiled, limits)
            _abi_exports(instance, store, limits)
        finally:
            abi.enter(None)

    def instantiate(self, compiled: Compiled, limits: CallLimits) -> tuple[wasmtime.Store, Any]:
        """A fresh Store with ``limits`` and an instance of ``compiled`` in it: what every call
        starts with (the benchmark's "instantiate")."""
        store = wasmtime.Store(self.engine)
        store.set_limits(memory_size=limits.memory_bytes, instances=1, tables=4, memories=1)
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(max(1, limits.deadline_ms // EPOCH_TICK_MS))
        if compiled.wasi:
            store.set_wasi(wasmtime.WasiConfig())  # nothing granted: no files, args or environment
        try:
            return store, compiled.pre.instantiate(store)
        except wasmtime.Trap as trap:
            raise _trapped(trap, limits) from None
        except wasmtime.WasmtimeError as error:
            raise CallFailedError("LinkFailed", _first_line(error)) from None

    def call(
        self,
        compiled: Compiled,
        payload: bytes,
        limits: CallLimits,
        host: abi.HostApi | None = None,
        export: str = "handle",
    ) -> CallResult:
        """Run ``handle`` (or ``on_event``) of a fresh instance of ``compiled`` on ``payload``
        (ABI v1)."""
        if len(payload) > limits.max_input_bytes:
            raise CallFailedError("BadInput", f"the request is over {limits.max_input_bytes} bytes")
        context = abi.CallContext(host, limits, time.monotonic() + limits.deadline_ms / 1000)
        abi.enter(context)
        try:
            store, instance = self.instantiate(compiled, limits)
            output, memory_bytes = _run(instance, store, payload, limits, export)
        finally:
            abi.enter(None)
        if context.abuse is not None:
            raise CallFailedError("HostCallAbuse", context.abuse)
        return CallResult(output, context.logs, limits.fuel - store.get_fuel(), memory_bytes)


def _abi_exports(
    instance: Any, store: wasmtime.Store, limits: CallLimits, export: str = "handle"
) -> tuple[wasmtime.Memory, wasmtime.Func, wasmtime.Func]:
    """Start a WASI reactor (``_initialize``), then the exports of ABI v1 (``memory``,
    ``alloc``, and ``export``: ``handle``, or ``on_event`` for an event)."""
    exports = instance.exports(store)
    initialize = exports.get("_initialize")  # a WASI reactor's start (Go's, say)
    if isinstance(initialize, wasmtime.Func):
        try:
            initialize(store)
        except wasmtime.Trap as trap:
            raise _trapped(trap, limits) from None
        except wasmtime.WasmtimeError as error:  # proc_exit while starting: an ExitTrap
            raise _exited(error) from None
    memory, alloc, handle = (exports.get(name) for name in GUEST_EXPORTS)
    entry = handle if export == "handle" else exports.get(export)
    if not (
        isinstance(memory, wasmtime.Memory)
        and isinstance(alloc, wasmtime.Func)
        and isinstance(handle, wasmtime.Func)
    ):
        raise CallFailedError("MissingExport", "ABI v1 needs the exports memory, alloc, handle")
    if not isinstance(entry, wasmtime.Func):
        raise CallFailedError("MissingExport", f"the module exports no function {export}")
    return memory, alloc, entry


def _run(
    instance: Any, store: wasmtime.Store, payload: bytes, limits: CallLimits, export: str
) -> tuple[bytes, int]:
    """``alloc``, the request written, ``handle``, the answer read: one call of ABI v1."""
    memory, alloc, handle = _abi_exports(instance, store, limits, export)
    try:
        pointer = alloc(store, len(payload))
        if not isinstance(pointer, int) or not _inside(memory, store, pointer, len(payload)):
            raise CallFailedError("BadOutput", "alloc returned a pointer outside its memory")
        memory.write(store, payload, pointer)
        packed = handle(store, pointer, len(payload))
    except wasmtime.Trap as trap:
        raise _trapped(trap, limits) from None
    except wasmtime.WasmtimeError as error:
        raise _exited(error) from None
    if not isinstance(packed, int):
        raise CallFailedError("BadOutput", "handle must return an i64")
    start, length = (packed >> 32) & 0xFFFFFFFF, packed & 0xFFFFFFFF
    if length > limits.max_output_bytes:
        raise CallFailedError("BadOutput", f"the answer is over {limits.max_output_bytes} bytes")
    if not _inside(memory, store, start, length):
        raise CallFailedError("BadOutput", "the answer lies outside the guest's memory")
    return bytes(memory.read(store, start, start + length)), memory.data_len(store)


def _inside(memory: wasmtime.Memory, store: wasmtime.Store, start: int, length: int) -> bool:
    return start >= 0 and length >= 0 and start + length <= memory.data_len(store)


def _first_line(error: Exception) -> str:
    """The cause of ``error``: its first line, or the line after "Caused by:" when wasmtime
    put a backtrace first (modules with names, Go's, say)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if "Caused by:" in lines[:-1]:
        return lines[lines.index("Caused by:") + 1]
    return lines[0]


def _exited(error: wasmtime.WasmtimeError) -> CallFailedError:
    """A guest that called WASI's proc_exit (Go's runtime does on a fatal error), or another
    error of wasmtime's while it ran."""
    code = getattr(error, "code", None)
    if isinstance(error, wasmtime.ExitTrap) or code is not None:
        return CallFailedError("Trap", f"the module exited with status {code}")
    return CallFailedError("Trap", _first_line(error))


def _trapped(trap: wasmtime.Trap, limits: CallLimits) -> CallFailedError:
    code = trap.trap_code
    if code == wasmtime.TrapCode.OUT_OF_FUEL:
        return CallFailedError("OutOfFuel", f"the call used all its fuel ({limits.fuel:,})")
    if code == wasmtime.TrapCode.INTERRUPT:
        return CallFailedError("DeadlineExceeded", f"the call ran past {limits.deadline_ms} ms")
    return CallFailedError("Trap", _first_line(trap))
