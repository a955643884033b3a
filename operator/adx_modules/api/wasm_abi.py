"""Guest ABI v1 of WASM modules, as a contract: the host functions and the guest's exports.

Why it exists: the scanner (what a module may import, which permission each import needs) and
the host (what it links) must agree on these names byte for byte, and modules compiled against
them live for years; spelled once, here. docs/wasm.md explains each.
"""

from __future__ import annotations

from typing import Final

ABI_VERSION: Final = 1
WASI: Final = "wasi_snapshot_preview1"
HOST: Final = "adx"
# every function of the ``adx`` namespace, and the permission resource a call of it needs
HOST_FUNCTIONS: Final[dict[str, str | None]] = {
    "log": None,
    "config_get": None,
    "storage_get": "storage",
    "storage_put": "storage",
    "storage_delete": "storage",
    "http_fetch": "network",
    "event_emit": "event",
    "last_error": None,
}
GUEST_EXPORTS: Final = ("memory", "alloc", "handle")
