"""The WASM engine with the real wasmtime: guest ABI v1 answers; every hostile guest ends its own
call with the reason (runaway loop, memory hog, trap, oversized or out-of-bounds answer,
undeclared import, malformed binary) while a neighbour's calls keep succeeding; compiled modules
are cached by digest across engines (a host restart compiles nothing)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import wasmtime

from adx_modules.api.types import ResourceRequirements
from adx_modules.sandboxes.wasm.engine import CallFailedError, Compiled, WasmEngine
from adx_modules.sandboxes.wasm.limits import CallLimits
from support import guests

LIMITS = CallLimits(fuel=50_000_000, deadline_ms=200, memory_bytes=2 * 2**20)

# ABI v1 around a body that answers (ptr, len) of the request: an echo, logging "hi"
ECHO = """
(module
  (import "adx" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hi")
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $ptr))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (call $log (i32.const 0) (i32.const 2))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len)))))
"""


def guest(handle_body: str, extra: str = "") -> str:
    """A module with ABI v1's exports whose ``handle`` does ``handle_body``."""
    return f"""
(module {extra}
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle") (param i32 i32) (result i64) {handle_body}))
"""


HOSTILE = {
    "runaway loop": (guest("(loop (br 0)) (i64.const 0)"), {"OutOfFuel", "DeadlineExceeded"}),
    "memory hog": (
        guest("(loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"),
        {"Trap"},
    ),
    "trap": (guest("unreachable"), {"Trap"}),
    "oversized answer": (guest("(i64.const 0x00000000FFFFFFFF)"), {"BadOutput"}),
    "answer out of bounds": (guest("(i64.const 0x7FFF000000000010)"), {"BadOutput"}),
}


def digest_of(binary: bytes) -> str:
    return f"sha256:{hashlib.sha256(binary).hexdigest()}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[WasmEngine]:
    running = WasmEngine(tmp_path / "cache")
    yield running
    running.close()


def load(engine: WasmEngine, text: str) -> Compiled:
    binary = bytes(wasmtime.wat2wasm(text))
    return engine.load(digest_of(binary), binary)


def test_abi_v1_answers_and_logs(engine: WasmEngine) -> None:
    result = engine.call(load(engine, ECHO), b'{"text": "hello"}', LIMITS)
    assert result.output == b'{"text": "hello"}'
    assert result.logs == ["hi"]
    assert 0 < result.fuel_used < LIMITS.fuel


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_guest_ends_its_own_call_and_a_neighbour_goes_on(
    engine: WasmEngine, kind: str
) -> None:
    text, reasons = HOSTILE[kind]
    hostile, neighbour = load(engine, text), load(engine, ECHO)
    with ThreadPoolExecutor(max_workers=4) as pool:
        bad = pool.submit(engine.call, hostile, b"{}", LIMITS)
        good = [pool.submit(engine.call, neighbour, b'{"n": %d}' % i, LIMITS) for i in range(20)]
        with pytest.raises(CallFailedError) as failed:
            bad.result(timeout=30)
        answers = [future.result(timeout=30).output for future in good]
    assert failed.value.reason in reasons, failed.value
    assert answers == [b'{"n": %d}' % i for i in range(20)]
    # and the engine still serves the hostile module's next call the same way
    with pytest.raises(CallFailedError):
        engine.call(hostile, b"{}", LIMITS)


@pytest.mark.parametrize(
    "imports",
    [
        '(import "env" "spawn" (func (param i32)))',  # outside WASI and adx
        '(import "adx" "log" (func (param i64)))',  # an adx function, the wrong signature
    ],
)
def test_an_undeclared_import_is_refused_when_loaded(engine: WasmEngine, imports: str) -> None:
    with pytest.raises(CallFailedError) as refused:
        load(engine, guest("(i64.const 0)", imports))
    assert refused.value.reason == "LinkFailed"
    assert engine.call(load(engine, ECHO), b"{}", LIMITS).output == b"{}"


def test_the_memory_limit_holds(engine: WasmEngine) -> None:
    # grows until refused, then answers (0, pages): the answer's length is the pages it got
    grows = guest(
        "(loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) "
        "(i64.extend_i32_u (memory.size))"
    )
    result = engine.call(load(engine, grows), b"{}", LIMITS)
    assert len(result.output) == LIMITS.memory_bytes // 65536  # 2 MiB: 32 pages, no more


def test_bad_binaries_and_requests_are_refused_naming_why(engine: WasmEngine) -> None:
    with pytest.raises(CallFailedError) as malformed:
        engine.load(digest_of(b"\0asm\x01\0\0\0\xff"), b"\0asm\x01\0\0\0\xff")
    assert malformed.value.reason == "InvalidModule"
    with pytest.raises(CallFailedError) as mismatch:
        engine.load("sha256:" + "0" * 64, bytes(wasmtime.wat2wasm(ECHO)))
    assert "does not match" in mismatch.value.message
    no_exports = load(engine, '(module (memory (export "memory") 1))')
    with pytest.raises(CallFailedError) as missing:
        engine.call(no_exports, b"{}", LIMITS)
    assert missing.value.reason == "MissingExport"
    with pytest.raises(CallFailedError) as too_big:
        engine.call(load(engine, ECHO), b"x" * (LIMITS.max_input_bytes + 1), LIMITS)
    assert too_big.value.reason == "BadInput"


def test_compiled_once_per_digest_and_kept_across_restarts(tmp_path: Path) -> None:
    binary = bytes(wasmtime.wat2wasm(ECHO))
    first = WasmEngine(tmp_path / "cache")
    module = first.load(digest_of(binary), binary)
    assert first.load(digest_of(binary), binary) is module  # in memory
    first.close()
    cached = list((tmp_path / "cache").glob("*/*.cwasm"))
    assert [path.stem for path in cached] == [digest_of(binary).removeprefix("sha256:")]
    again = WasmEngine(tmp_path / "cache")  # a restarted host: deserialized, not compiled
    again._compile = None  # type: ignore[assignment,method-assign]
    assert again.call(again.load(digest_of(binary), binary), b"{}", LIMITS).output == b"{}"
    again.close()
    # a compiled file another engine cannot read (another wasmtime, a torn disk) is redone
    cached[0].write_bytes(b"not a compiled module")
    third = WasmEngine(tmp_path / "cache")
    assert third.call(third.load(digest_of(binary), binary), b"{}", LIMITS).output == b"{}"
    assert cached[0].read_bytes() != b"not a compiled module"
    third.close()


def test_limits_come_from_the_installations_resources() -> None:
    resources = ResourceRequirements.model_validate({"limits": {"cpu": "200m", "memory": "32Mi"}})
    limits = CallLimits.of(resources)
    assert limits.memory_bytes == 32 * 2**20
    assert limits.fuel == 200_000_000  # 0.2 core for one second's deadline
    assert CallLimits.of(None).memory_bytes == 64 * 2**20


def test_a_go_runtime_that_exits_while_starting_ends_its_call_with_a_reason(
    engine: WasmEngine, tmp_path: Path
) -> None:
    # Go's runtime calls proc_exit when it cannot start (here: too little memory to grow into)
    binary = guests.go_greeter(tmp_path)
    compiled = engine.load(digest_of(binary), binary)
    tight = CallLimits(fuel=50_000_000, deadline_ms=1_000, memory_bytes=44 * 65536)
    with pytest.raises(CallFailedError) as exited:
        engine.call(compiled, b'{"function": "greet", "input": null}', tight)
    assert exited.value.reason == "Trap"
    assert "exited with status" in exited.value.message
