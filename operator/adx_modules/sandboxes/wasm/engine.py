"""The WASM engine: one wasmtime Engine, modules compiled once per digest, a fresh Store per call
with hard limits, and guest ABI v1.

Why it exists: every tenant's WASM modules run in one shared host, so no guest may take the host
or a neighbour down. Each call gets its own Store (nothing survives between calls, no object is
shared across stores), fuel for its CPU share, an epoch deadline for its wall clock, a memory
limit, WASI with nothing granted (no files, no environment, no clock beyond WASI's own), and
only the host functions of the ``adx`` namespace. A trap, a runaway loop, a memory hog or an
oversized answer ends that call with a :class:`CallFailedError` naming why; the engine goes on.
Compiled modules are cached by digest in memory and on disk (``serialize``), so a host restart
does not compile again. Blocking (wasm runs in the calling thread): async callers use a thread.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from adx_modules.sandboxes.wasm.limits import CallLimits

EPOCH_TICK_MS = 10
MAX_MODULE_BYTES = 64 * 2**20
MAX_LOG_BYTES = 64 * 2**10


class CallFailedError(Exception):
    """A call ended without an answer: ``reason`` (stable, CamelCase) and what happened."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass
class CallResult:
    """The guest's answer, what it logged, and the fuel it burnt."""

    output: bytes
    logs: list[str] = field(default_factory=list)
    fuel_used: int = 0


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    return wasmtime.Engine(config)


class WasmEngine:
    """Compiles, caches and runs modules; one per host process."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.engine = _engine()
        self._cache_dir = cache_dir or Path(tempfile.gettempdir(), "adx-wasm-cache")
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        self._modules: dict[str, wasmtime.Module] = {}
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

    def load(self, digest: str, binary: bytes) -> wasmtime.Module:
        """The compiled module of ``binary``, which must hash to ``digest`` (sha256:…):
        from memory, from the disk cache, or compiled now (then cached). Never instantiated."""
        if f"sha256:{hashlib.sha256(binary).hexdigest()}" != digest:
            raise CallFailedError("InvalidModule", f"the binary does not match {digest}")
        with self._lock:
            module = self._modules.get(digest)
            if module is not None:
                return module
            cached = self._cache_dir / f"{digest.removeprefix('sha256:')}.cwasm"
            if cached.exists():
                module = wasmtime.Module.deserialize_file(self.engine, str(cached))
            else:
                module = self._compile(binary, digest)
                scratch = cached.with_suffix(f".{os.getpid()}.tmp")
                scratch.write_bytes(module.serialize())
                scratch.replace(cached)  # atomic: a reader sees all of it or nothing
            self._modules[digest] = module
            return module

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

    def call(self, module: wasmtime.Module, payload: bytes, limits: CallLimits) -> CallResult:
        """Run ``handle`` of a fresh instance of ``module`` on ``payload`` (ABI v1)."""
        if len(payload) > limits.max_input_bytes:
            raise CallFailedError("BadInput", f"the request is over {limits.max_input_bytes} bytes")
        store = wasmtime.Store(self.engine)
        store.set_limits(memory_size=limits.memory_bytes, instances=1, tables=4, memories=1)
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(max(1, limits.deadline_ms // EPOCH_TICK_MS))
        store.set_wasi(wasmtime.WasiConfig())  # nothing granted: no files, args or environment
        result = CallResult(b"")
        linker = self._linker(result)
        try:
            instance = linker.instantiate(store, module)
        except wasmtime.WasmtimeError as error:
            raise CallFailedError("LinkFailed", _first_line(error)) from None
        except wasmtime.Trap as trap:
            raise _trapped(trap, limits) from None
        exports = instance.exports(store)
        memory, alloc, handle = (exports.get(name) for name in ("memory", "alloc", "handle"))
        if not (
            isinstance(memory, wasmtime.Memory)
            and isinstance(alloc, wasmtime.Func)
            and isinstance(handle, wasmtime.Func)
        ):
            raise CallFailedError("MissingExport", "ABI v1 needs the exports memory, alloc, handle")
        try:
            pointer = alloc(store, len(payload))
            if not isinstance(pointer, int) or not _inside(memory, store, pointer, len(payload)):
                raise CallFailedError("BadOutput", "alloc returned a pointer outside its memory")
            memory.write(store, payload, pointer)
            packed = handle(store, pointer, len(payload))
        except wasmtime.Trap as trap:
            raise _trapped(trap, limits) from None
        if not isinstance(packed, int):
            raise CallFailedError("BadOutput", "handle must return an i64")
        start, length = (packed >> 32) & 0xFFFFFFFF, packed & 0xFFFFFFFF
        if length > limits.max_output_bytes:
            raise CallFailedError(
                "BadOutput", f"the answer is over {limits.max_output_bytes} bytes"
            )
        if not _inside(memory, store, start, length):
            raise CallFailedError("BadOutput", "the answer lies outside the guest's memory")
        result.output = bytes(memory.read(store, start, start + length))
        result.fuel_used = limits.fuel - store.get_fuel()
        return result

    def _linker(self, result: CallResult) -> wasmtime.Linker:
        """WASI preview 1 and the ``adx`` host functions, bound to this call."""
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        logged = [0]

        def log(caller: wasmtime.Caller, pointer: int, length: int) -> None:
            memory = caller.get("memory")
            if not isinstance(memory, wasmtime.Memory) or length < 0:
                return
            if logged[0] + length > MAX_LOG_BYTES:
                return  # a chatty guest is cut off, not the host
            if _inside(memory, caller, pointer, length):
                text = bytes(memory.read(caller, pointer, pointer + length))
                result.logs.append(text.decode("utf-8", errors="replace"))
                logged[0] += length

        i32 = wasmtime.ValType.i32()
        linker.define_func("adx", "log", wasmtime.FuncType([i32, i32], []), log, access_caller=True)
        return linker


def _inside(
    memory: wasmtime.Memory, store: wasmtime.Store | wasmtime.Caller, start: int, length: int
) -> bool:
    return start >= 0 and length >= 0 and start + length <= memory.data_len(store)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _trapped(trap: wasmtime.Trap, limits: CallLimits) -> CallFailedError:
    code = trap.trap_code
    if code == wasmtime.TrapCode.OUT_OF_FUEL:
        return CallFailedError("OutOfFuel", f"the call used all its fuel ({limits.fuel:,})")
    if code == wasmtime.TrapCode.INTERRUPT:
        return CallFailedError("DeadlineExceeded", f"the call ran past {limits.deadline_ms} ms")
    return CallFailedError("Trap", _first_line(trap))
