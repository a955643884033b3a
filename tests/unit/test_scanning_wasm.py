"""WASM static analysis with the real wasmtime: imports checked against declared permissions,
the guest ABI's exports required, hosts that do not exist named, malformed binaries refused
with wasmtime's reason, and nothing ever instantiated (a start function that traps is fine)."""

from __future__ import annotations

import wasmtime

from adx_modules.catalog.scanning.wasm import analyze, interface

GUEST = """
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) i32.const 0)
  (func (export "handle") (param i32 i32) (result i64) i64.const 0)
"""


def wasm(imports: str = "", exports: str = GUEST) -> bytes:
    return wasmtime.wat2wasm(f"(module {imports} {exports})")


def rules(findings: list[object]) -> list[tuple[str, str]]:
    return [(f.rule, f.location.partition("import ")[2]) for f in findings]  # type: ignore[attr-defined]


def test_a_plain_guest_has_no_findings() -> None:
    imports = '(import "adx" "log" (func (param i32 i32)))'
    imports += (
        '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
    )
    assert analyze(wasm(imports), []) == []


def test_capabilities_need_their_permission() -> None:
    imports = """
      (import "wasi_snapshot_preview1" "sock_send" (func (param i32 i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open"
        (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "adx" "storage_put" (func (param i32 i32 i32 i32) (result i32)))
    """
    binary = wasm(imports)
    assert rules(analyze(binary, [])) == [
        ("undeclared-capability", "wasi_snapshot_preview1.sock_send"),
        ("undeclared-capability", "wasi_snapshot_preview1.path_open"),
        ("undeclared-capability", "adx.storage_put"),
    ]
    findings = analyze(binary, ["network:access:api.example.com"])
    assert [f.severity for f in findings] == ["HIGH", "HIGH"]
    assert "a file capability, but declares no file: permission" in findings[0].message
    declared = ["network:access:api.example.com", "file:read:/tmp/x", "storage:write:cache"]
    assert analyze(binary, declared) == []


def test_an_import_no_host_offers_and_missing_exports() -> None:
    binary = wasm('(import "env" "system" (func (param i32) (result i32)))', exports="")
    assert rules(analyze(binary, [])) == [
        ("unknown-import", "env.system"),
        ("missing-export", ""),
        ("missing-export", ""),
        ("missing-export", ""),
    ]


def test_malformed_binaries_are_one_critical_finding_naming_why() -> None:
    for binary, reason in (
        (b"\x7fELF\x02\x01", "no \\0asm header"),
        (b"\0asm\x01\0\0\0\xff\xff", "wasmtime refuses it"),
        (b"(module)", "no \\0asm header"),  # text is not a binary (never compiled as WAT)
    ):
        [finding] = analyze(binary, [])
        assert (finding.severity, finding.rule) == ("CRITICAL", "malformed")
        assert reason in finding.message


def test_nothing_is_instantiated() -> None:
    # a start function that traps would fail at instantiation: compiling never runs it
    binary = wasm(exports=GUEST + "(func $boom unreachable) (start $boom)")
    assert interface(binary).exports == ("memory", "alloc", "handle")
    assert analyze(binary, []) == []
