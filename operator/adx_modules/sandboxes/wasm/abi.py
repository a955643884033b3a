"""Guest ABI v1's host side: the ``adx`` functions a module imports, and the call they serve.

Why it exists: the ABI (docs/wasm.md) is a contract with every module ever compiled against it,
so its marshalling lives in one place: reading a guest's arguments from its memory, writing
answers back, error codes. What a call *does* (storage, HTTP, events) is the :class:`HostApi`
of the installation, asked through the :class:`CallContext` of the call in progress.

The functions are defined once per engine (instantiating from a pre-linked module is what
keeps a call's start near 30 µs), so they find their call through a thread-local: a call runs
in one thread from start to end. A host function never raises: wasmtime-py keeps the last
Python exception of a host function in a *process-wide* variable, where another thread's trap
could pick it up, so every failure becomes an error code and, for abuse, a mark that ends the
call once the guest returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import wasmtime

from adx_modules.api.wasm_abi import HOST, HOST_FUNCTIONS
from adx_modules.sandboxes.wasm.capabilities import DeniedError
from adx_modules.sandboxes.wasm.limits import CallLimits

MAX_LOG_BYTES = 64 * 2**10
MAX_ARGUMENT_BYTES = 1 * 2**20

# what a host function returns when it has no answer (an answer is its length, >= 0)
DENIED = -1
NOT_FOUND = -2
QUOTA_EXCEEDED = -3
BAD_INPUT = -4
FAILED = -5
LIMITED = -6


class HostCallError(Exception):
    """A host call that failed: ``code`` goes to the guest, ``message`` to ``last_error``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HostApi(Protocol):
    """What one installation's module can ask of the host (blocking; permissions checked)."""

    def config_get(self, key: str) -> bytes | None: ...
    def storage_get(self, key: str) -> bytes | None: ...
    def storage_put(self, key: str, value: bytes) -> None: ...
    def storage_delete(self, key: str) -> None: ...
    def http_fetch(self, request: bytes, timeout: float) -> bytes: ...
    def event_emit(self, topic: str, payload: bytes) -> None: ...


@dataclass
class CallContext:
    """One call in progress: its host API, limits, logs and what it asked so far."""

    host: HostApi | None
    limits: CallLimits
    deadline: float
    """time.monotonic() by which the call must end (host calls get what remains)."""
    logs: list[str] = field(default_factory=list)
    logged: int = 0
    host_calls: int = 0
    last_error: str = ""
    abuse: str | None = None
    """Set when the guest broke a rule of the host API: the call fails with it."""
    pending: dict[tuple[str, bytes], bytes] = field(default_factory=dict)
    """Answers too long for the guest's buffer, kept for its retry with a larger one."""


_local = threading.local()


def enter(context: CallContext | None) -> None:
    """Bind ``context`` to this thread's call (None: the call is over)."""
    _local.context = context


def current() -> CallContext | None:
    return getattr(_local, "context", None)


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory | None:
    memory = caller.get("memory")
    return memory if isinstance(memory, wasmtime.Memory) else None


def _read(caller: wasmtime.Caller, pointer: int, length: int) -> bytes | None:
    memory = _memory(caller)
    if memory is None or pointer < 0 or length < 0 or length > MAX_ARGUMENT_BYTES:
        return None
    if pointer + length > memory.data_len(caller):
        return None
    return bytes(memory.read(caller, pointer, pointer + length))


def _answer(
    caller: wasmtime.Caller,
    context: CallContext,
    key: tuple[str, bytes],
    data: bytes,
    out: tuple[int, int],
) -> int:
    """Write ``data`` at ``out`` (pointer, capacity) if it fits; its length either way (a
    guest whose buffer was short calls again with a larger one and gets the kept answer)."""
    pointer, capacity = out
    if len(data) > capacity:
        context.pending[key] = data
        return len(data)
    memory = _memory(caller)
    if memory is None or pointer < 0 or pointer + len(data) > memory.data_len(caller):
        context.last_error = "the answer buffer lies outside the module's memory"
        return BAD_INPUT
    memory.write(caller, data, pointer)
    context.pending.pop(key, None)
    return len(data)


HostFunction = Callable[..., int]


def _guarded(name: str, body: Callable[..., int]) -> HostFunction:
    """``body`` for a call in progress, counted against the call's budget, never raising."""

    def guarded(caller: wasmtime.Caller, *args: int) -> int:
        context = current()
        if context is None:
            return FAILED
        context.host_calls += 1
        if context.host_calls > context.limits.max_host_calls:
            context.abuse = f"more than {context.limits.max_host_calls} host calls in one call"
            context.last_error = context.abuse
            return LIMITED
        try:
            return body(caller, context, *args)
        except HostCallError as error:
            context.last_error = f"{name}: {error.message}"
            return error.code
        except DeniedError as error:
            context.last_error = str(error)
            return DENIED
        except Exception as error:
            context.last_error = f"{name}: {type(error).__name__}: {error}"
            return FAILED

    return guarded


def _text(caller: wasmtime.Caller, pointer: int, length: int, what: str) -> str:
    data = _read(caller, pointer, length)
    if data is None:
        raise HostCallError(BAD_INPUT, f"the {what} lies outside the module's memory")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HostCallError(BAD_INPUT, f"the {what} is not UTF-8") from None


def _bytes(caller: wasmtime.Caller, pointer: int, length: int, what: str) -> bytes:
    data = _read(caller, pointer, length)
    if data is None:
        raise HostCallError(BAD_INPUT, f"the {what} lies outside the module's memory")
    return data


def _host(context: CallContext) -> HostApi:
    if context.host is None:
        raise HostCallError(FAILED, "this host runs the module without a host API")
    return context.host


def _log(caller: wasmtime.Caller, context: CallContext, pointer: int, length: int) -> int:
    if length < 0 or context.logged + length > MAX_LOG_BYTES:
        return LIMITED  # a chatty guest is cut off, not the host
    data = _read(caller, pointer, length)
    if data is not None:
        context.logs.append(data.decode("utf-8", errors="replace"))
        context.logged += length
    return 0


Ask = Callable[[CallContext, wasmtime.Caller, int, int], bytes | None]


def _fetching(name: str, ask: Ask) -> Callable[..., int]:
    """A host function ``(in_ptr, in_len, out_ptr, out_cap) -> len`` that answers into the
    guest's buffer."""

    def body(  # noqa: PLR0917 - the wasm signature
        caller: wasmtime.Caller,
        context: CallContext,
        pointer: int,
        length: int,
        out: int,
        capacity: int,
    ) -> int:
        argument = _bytes(caller, pointer, length, "argument")
        key = (name, argument)
        data = context.pending.get(key)
        if data is None:
            data = ask(context, caller, pointer, length)
            if data is None:
                raise HostCallError(NOT_FOUND, "no such key")
        return _answer(caller, context, key, data, (out, capacity))

    return body


def _config_get(
    context: CallContext, caller: wasmtime.Caller, pointer: int, length: int
) -> bytes | None:
    return _host(context).config_get(_text(caller, pointer, length, "key"))


def _storage_get(
    context: CallContext, caller: wasmtime.Caller, pointer: int, length: int
) -> bytes | None:
    return _host(context).storage_get(_text(caller, pointer, length, "key"))


def _http_fetch(context: CallContext, caller: wasmtime.Caller, pointer: int, length: int) -> bytes:
    remaining = context.deadline - time.monotonic()
    if remaining <= 0.01:
        raise HostCallError(LIMITED, "no time left in this call for a request")
    return _host(context).http_fetch(_bytes(caller, pointer, length, "request"), remaining)


def _storage_put(  # noqa: PLR0917 - the wasm signature
    caller: wasmtime.Caller,
    context: CallContext,
    key_ptr: int,
    key_len: int,
    value_ptr: int,
    value_len: int,
) -> int:
    key = _text(caller, key_ptr, key_len, "key")
    _host(context).storage_put(key, _bytes(caller, value_ptr, value_len, "value"))
    return 0


def _storage_delete(
    caller: wasmtime.Caller, context: CallContext, pointer: int, length: int
) -> int:
    _host(context).storage_delete(_text(caller, pointer, length, "key"))
    return 0


def _event_emit(  # noqa: PLR0917 - the wasm signature
    caller: wasmtime.Caller,
    context: CallContext,
    topic_ptr: int,
    topic_len: int,
    payload_ptr: int,
    payload_len: int,
) -> int:
    topic = _text(caller, topic_ptr, topic_len, "topic")
    _host(context).event_emit(topic, _bytes(caller, payload_ptr, payload_len, "payload"))
    return 0


def _last_error(caller: wasmtime.Caller, context: CallContext, out: int, capacity: int) -> int:
    data = context.last_error.encode()
    return _answer(caller, context, ("last_error", b""), data, (out, capacity))


def define(linker: wasmtime.Linker) -> None:
    """Put every ``adx`` function of ABI v1 into ``linker``."""
    i32 = wasmtime.ValType.i32()
    functions: dict[str, tuple[int, Callable[..., int]]] = {
        "log": (2, _log),
        "config_get": (4, _fetching("config_get", _config_get)),
        "storage_get": (4, _fetching("storage_get", _storage_get)),
        "storage_put": (4, _storage_put),
        "storage_delete": (2, _storage_delete),
        "http_fetch": (4, _fetching("http_fetch", _http_fetch)),
        "event_emit": (4, _event_emit),
        "last_error": (2, _last_error),
    }
    if set(functions) != set(HOST_FUNCTIONS):  # the contract and the host agree, or no host
        raise RuntimeError(f"adx functions {sorted(functions)} != ABI v1 {sorted(HOST_FUNCTIONS)}")
    for name, (arity, body) in functions.items():
        results = [] if name == "log" else [i32]
        guarded = _guarded(name, body)
        function = _no_result(guarded) if name == "log" else guarded
        linker.define_func(
            HOST,
            name,
            wasmtime.FuncType([i32] * arity, results),
            function,
            access_caller=True,
        )


def _no_result(function: HostFunction) -> Callable[..., None]:
    def wrapped(caller: wasmtime.Caller, *args: int) -> None:
        function(caller, *args)

    return wrapped
