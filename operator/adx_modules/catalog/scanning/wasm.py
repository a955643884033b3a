"""WASM static analysis: what a module can ask its host for, against what its manifest declares.

Why it exists: Trivy finds nothing inside a ``.wasm``, yet a WASM module's reach is written in
its imports: a module that imports WASI's socket or filesystem calls can use them wherever a host
provides them. The binary is compiled with wasmtime (validated, never instantiated: no guest code
runs), its imports and exports are listed, and each capability it imports must be covered by a
declared permission; an import the host does not offer, or a missing guest-ABI export, means the
module cannot run as declared. A malformed binary is refused with wasmtime's own explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import wasmtime

from adx_modules.api.wasm_abi import GUEST_EXPORTS, HOST, HOST_FUNCTIONS, WASI
from adx_modules.catalog.scanning.findings import Finding

SCANNER = "wasm"
MAGIC = b"\0asm"
MAX_BYTES = 64 * 2**20

# WASI preview 1 calls that reach outside the module, and the permission resource each needs
WASI_CAPABILITIES: dict[str, str] = {
    **dict.fromkeys(("sock_accept", "sock_recv", "sock_send", "sock_shutdown"), "network"),
    **dict.fromkeys(
        (
            "path_open",
            "path_create_directory",
            "path_remove_directory",
            "path_unlink_file",
            "path_rename",
            "path_symlink",
            "path_link",
            "path_filestat_get",
            "path_filestat_set_times",
            "path_readlink",
            "fd_readdir",
        ),
        "file",
    ),
}
# the adx host functions that need a permission, by the resource they need
HOST_CAPABILITIES: dict[str, str] = {
    name: resource for name, resource in HOST_FUNCTIONS.items() if resource is not None
}


class MalformedWasmError(ValueError):
    """Not a WebAssembly binary wasmtime accepts; the message says why."""


@dataclass(frozen=True)
class WasmInterface:
    """What a binary imports (module, name) and exports (names)."""

    imports: tuple[tuple[str, str], ...]
    exports: tuple[str, ...]


def interface(binary: bytes, engine: wasmtime.Engine | None = None) -> WasmInterface:
    """Compile (never instantiate) and list the imports and exports."""
    if not binary.startswith(MAGIC):
        raise MalformedWasmError("not a WebAssembly binary (no \\0asm header)")
    if len(binary) > MAX_BYTES:
        raise MalformedWasmError(
            f"{len(binary)} bytes: larger than the {MAX_BYTES // 2**20} MiB limit"
        )
    try:
        module = wasmtime.Module(engine or wasmtime.Engine(), binary)
    except wasmtime.WasmtimeError as error:
        reason = " ".join(str(error).split())
        raise MalformedWasmError(f"wasmtime refuses it: {reason}") from None
    return WasmInterface(
        imports=tuple((item.module, item.name or "") for item in module.imports),
        exports=tuple(item.name for item in module.exports),
    )


def _declared(permissions: Sequence[str]) -> set[str]:
    """The permission resources declared (``network:access:x`` -> ``network``)."""
    return {permission.split(":", 1)[0] for permission in permissions}


def analyze(
    binary: bytes, permissions: Sequence[str], location: str = "module.wasm"
) -> list[Finding]:
    """Findings for ``binary`` under the manifest's ``permissions``; a malformed binary is one
    CRITICAL finding (it can never run)."""
    try:
        found = interface(binary)
    except MalformedWasmError as error:
        return [Finding(SCANNER, "CRITICAL", "malformed", str(error), location)]
    declared = _declared(permissions)
    findings: list[Finding] = []
    for namespace, name in found.imports:
        where = f"{location}: import {namespace}.{name}"
        if namespace == WASI:
            needed = WASI_CAPABILITIES.get(name)
        elif namespace == HOST and name in HOST_FUNCTIONS:
            needed = HOST_CAPABILITIES.get(name)
        else:
            findings.append(
                Finding(
                    SCANNER,
                    "HIGH",
                    "unknown-import",
                    f"the host offers no {namespace}.{name} (it offers {WASI} and {HOST})",
                    where,
                )
            )
            continue
        if needed and needed not in declared:
            findings.append(
                Finding(
                    SCANNER,
                    "HIGH",
                    "undeclared-capability",
                    f"imports {namespace}.{name}, a {needed} capability, but declares no "
                    f"{needed}: permission",
                    where,
                )
            )
    for export in GUEST_EXPORTS:
        if export not in found.exports:
            findings.append(
                Finding(
                    SCANNER,
                    "HIGH",
                    "missing-export",
                    f"does not export {export!r} (guest ABI v1 needs memory, alloc, handle)",
                    location,
                )
            )
    return findings
