"""The OCI media types of module artifacts: what ``adx-module-cli publish`` pushes and what the
worker fetches and scans.

Why it exists: the author's tools and the service must agree on these strings byte for byte,
and other registries' tools (oras, crane) show them, so they are part of the public contract,
spelled once.
"""

from __future__ import annotations

from typing import Final

ARTIFACT_TYPE: Final = "application/vnd.adx.module.v1"
PACKAGE_LAYER: Final = "application/vnd.adx.module.package.v1.tar+gzip"
EMPTY_CONFIG: Final = "application/vnd.oci.empty.v1+json"
# the CNCF "WASM OCI artifact" layout: a config describing the module, one layer of wasm bytes
WASM_CONFIG: Final = "application/vnd.wasm.config.v0+json"
WASM_LAYER: Final = "application/vnd.wasm.content.layer.v1+wasm"
WASM_LAYERS: Final = (WASM_LAYER, "application/wasm")  # the second: older tools' spelling
