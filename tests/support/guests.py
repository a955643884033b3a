"""WASM guests for the host's tests and benchmark: ABI v1 around small bodies (docs/wasm.md),
and the WAT example of ``examples/wasm``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import wasmtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wasm"

PRELUDE = """
  (import "adx" "log" (func $log (param i32 i32)))
  (import "adx" "storage_put" (func $storage_put (param i32 i32 i32 i32) (result i32)))
  (import "adx" "event_emit" (func $event_emit (param i32 i32 i32 i32) (result i32)))
  (import "adx" "last_error" (func $last_error (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 65536))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.const 1) (i32.div_u
        (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
        (i32.const 65536)))))))
    (local.get $ptr))
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  ;; "<why the last host call failed>", as a JSON string
  (func $error (result i64)
    (local $n i32)
    (i32.store8 (i32.const 16384) (i32.const 34))
    (local.set $n (call $last_error (i32.const 16385) (i32.const 4000)))
    (i32.store8 (i32.add (i32.const 16385) (local.get $n)) (i32.const 34))
    (call $pack (i32.const 16384) (i32.add (local.get $n) (i32.const 2))))
  (data (i32.const 0) "true")
"""


def guest(body: str, data: str = "", imports: str = "", functions: str = "") -> str:
    """A module whose ``handle(ptr, len)`` does ``body`` (and has ``functions`` besides)."""
    return (
        f"(module {imports} {PRELUDE} {data} {functions}\n"
        f'  (func (export "handle") (param $ptr i32) (param $len i32) (result i64) {body}))'
    )


TRUE = "(call $pack (i32.const 0) (i32.const 4))"
ECHO = guest("(call $pack (local.get $ptr) (local.get $len))")
# stores under "secret" without a permission for it: answers the host's refusal
DENIED = guest(
    "(if (i32.lt_s (call $storage_put (i32.const 32) (i32.const 6) (local.get $ptr) "
    "(local.get $len)) (i32.const 0)) (then (return (call $error)))) " + TRUE,
    data='(data (i32.const 32) "secret")',
)
# stores the request under "blob"
WRITER = guest(
    "(if (i32.lt_s (call $storage_put (i32.const 32) (i32.const 4) (local.get $ptr) "
    "(local.get $len)) (i32.const 0)) (then (return (call $error)))) " + TRUE,
    data='(data (i32.const 32) "blob")',
)
# publishes the request on "orders"
EMITTER = guest(
    "(if (i32.lt_s (call $event_emit (i32.const 32) (i32.const 6) (local.get $ptr) "
    "(local.get $len)) (i32.const 0)) (then (return (call $error)))) " + TRUE,
    data='(data (i32.const 32) "orders")',
)
# keeps the last event it was given (on_event) under "last-event"; handle answers it (or null)
SUBSCRIBER = guest(
    "(local $n i32) "
    "(local.set $n (call $storage_get (i32.const 32) (i32.const 10) (i32.const 20000) "
    "(i32.const 40000))) "
    "(if (i32.eq (local.get $n) (i32.const -2)) (then (return (call $pack (i32.const 48) "
    "(i32.const 4))))) "
    "(if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (call $error)))) "
    "(call $pack (i32.const 20000) (local.get $n))",
    data='(data (i32.const 32) "last-event") (data (i32.const 48) "null")',
    imports='(import "adx" "storage_get" (func $storage_get (param i32 i32 i32 i32) (result i32)))',
    functions=(
        '(func (export "on_event") (param $ptr i32) (param $len i32) (result i64) '
        "(if (i32.lt_s (call $storage_put (i32.const 32) (i32.const 10) (local.get $ptr) "
        "(local.get $len)) (i32.const 0)) (then (return (call $error)))) "
        "(call $pack (i32.const 0) (i32.const 4)))"
    ),
)
# subscribes, and traps on every event it is given
POISONED = guest(
    TRUE, functions='(func (export "on_event") (param i32 i32) (result i64) unreachable)'
)
# burns about ``n`` loop rounds, then answers true
SLOW = guest(
    "(local $i i32) (local.set $i (i32.const 3000000)) "
    "(loop (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if 0 (local.get $i))) " + TRUE
)
HOSTILE = {
    "runaway loop": guest("(loop (br 0)) (i64.const 0)"),
    "memory hog": guest(
        "(loop (br_if 0 (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable"
    ),
    "trap": guest("unreachable"),
    "oversized answer": guest("(i64.const 0x00000000FFFFFFFF)"),
    "host-call abuse": guest(
        "(local $i i32) (local.set $i (i32.const 5000)) "
        "(loop (call $log (i32.const 0) (i32.const 0)) "
        "(local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if 0 (local.get $i))) " + TRUE
    ),
    "answer not JSON": guest("(call $pack (i32.const 0) (i32.const 3))"),
}
# what each ends with: (HTTP status, reason)
HOSTILE_ENDS = {
    "runaway loop": (504, {"OutOfFuel", "DeadlineExceeded"}),
    "memory hog": (502, {"Trap"}),
    "trap": (502, {"Trap"}),
    "oversized answer": (502, {"BadOutput"}),
    "host-call abuse": (502, {"HostCallAbuse"}),
    "answer not JSON": (502, {"BadOutput"}),
}
# every host function with pointers outside its memory: each answers -4 (bad input), or the
# guest traps (unreachable) and the test sees it
_BAD = [
    "(call $config_get (i32.const 0x7fffff00) (i32.const 10) (i32.const 0) (i32.const 10))",
    "(call $storage_get (i32.const -1) (i32.const 5) (i32.const 0) (i32.const 10))",
    "(call $storage_put (i32.const 0) (i32.const 4) (i32.const 0x7ffffff0) (i32.const 100))",
    "(call $http_fetch (i32.const 131000) (i32.const 1000) (i32.const 0) (i32.const 10))",
    "(call $event_emit (i32.const 0) (i32.const 3) (i32.const -8) (i32.const 4))",
    "(call $last_error (i32.const -1) (i32.const 100000))",
]
GARBAGE = guest(
    "(call $log (i32.const -5) (i32.const 10)) "
    + " ".join(f"(if (i32.ne {call} (i32.const -4)) (then unreachable))" for call in _BAD)
    + " "
    + TRUE,
    imports=(
        '(import "adx" "config_get" (func $config_get (param i32 i32 i32 i32) (result i32)))'
        '(import "adx" "storage_get" (func $storage_get (param i32 i32 i32 i32) (result i32)))'
        '(import "adx" "http_fetch" (func $http_fetch (param i32 i32 i32 i32) (result i32)))'
    ),
)
UNDECLARED_IMPORT = guest(TRUE, imports='(import "env" "spawn" (func (param i32)))')
NO_HANDLE = '(module (memory (export "memory") 1))'


def greeter(variant: str = "") -> str:
    """examples/wasm/wat/greeter.wat (a variant adds an unused function: another digest)."""
    text = (EXAMPLES / "wat" / "greeter.wat").read_text()
    if variant:
        text = text.rstrip().removesuffix(")") + f'\n  (func (export "{variant}")))\n'
    return text


def binary(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def go_greeter(directory: Path) -> bytes:
    """examples/wasm/go's greeter, built with the stock Go toolchain (a WASI reactor)."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not on PATH (the README's prerequisites list Go 1.26)")
    target = directory / "greeter.wasm"
    subprocess.run(
        [go, "build", "-buildmode=c-shared", "-o", str(target), "./greeter"],
        cwd=EXAMPLES / "go",
        env={**os.environ, "GOOS": "wasip1", "GOARCH": "wasm"},
        check=True,
        capture_output=True,
    )
    return target.read_bytes()
