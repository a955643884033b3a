"""A Module's artifact, pinned and fetched: a digest from the registry (or its mirror), or the
bytes of a URL or ConfigMap checked against the digest the Module declares.

Why it exists: what is scanned must be what runs. The scanner and the sandboxes that run an
artifact's bytes (the WASM host's binaries) pin and fetch it the same way, through this one
place: a tag is asked once and everything after uses the digest; plain HTTP is honoured for a
loopback registry only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
from pathlib import Path

from adx_modules.api import reasons as r
from adx_modules.api.artifacts import PACKAGE_LAYER, WASM_LAYERS
from adx_modules.catalog.scanning.sources import Source, checked, download
from adx_modules.clients.errors import InvalidError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.oci import fetch_layer, resolve_digest
from adx_modules.core.errors import StepError
from adx_modules.core.settings import RegistrySettings

LAYERS = {"package": (PACKAGE_LAYER,), "wasm": WASM_LAYERS}


def loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0].strip("[]") if ":" in registry else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Located:
    """An artifact pinned: the name installations run, where its bytes are, its digest."""

    def __init__(self, reference: str, fetch_from: str, digest: str, path: Path | None) -> None:
        self.reference = reference  # as named, pinned by digest (or the URL)
        self.fetch_from = fetch_from  # the same at the mirror that serves it
        self.digest = digest
        self.path = path  # the bytes, when locating them meant downloading them


class ArtifactFetcher:
    """Pins and fetches artifacts with the worker's registry settings (and its Kubernetes
    client, for ConfigMaps)."""

    def __init__(self, registry: RegistrySettings, kube: KubeClient | None = None) -> None:
        self._registry = registry
        self._kube = kube

    def insecure(self, registry: str) -> bool:
        """Whether to speak plain HTTP to ``registry``; refused for any but a loopback one."""
        if not self._registry.insecure:
            return False
        if not loopback(registry):
            raise StepError(
                r.ARTIFACT_INVALID,
                f"{registry}: registry.insecure (plain HTTP) is honoured for a loopback "
                "registry only; serve this one over TLS",
            )
        return True

    async def locate(self, source: Source, workdir: Path) -> Located:
        """Pin the artifact: a digest from the registry, or the bytes and their hash."""
        if source.oci is not None:
            oci = source.oci
            host = self._registry.mirror(oci.registry) or oci.registry
            insecure = self.insecure(host)
            digest = await asyncio.to_thread(resolve_digest, oci, host=host, insecure=insecure)
            fetch_from = f"{host}/{oci.repository}@{digest}"
            return Located(oci.pinned(digest), fetch_from, digest, None)
        path = workdir / "artifact"
        if source.url is not None:
            digest = checked(
                await asyncio.to_thread(download, source.url, path), source, source.url
            )
            return Located(source.url, source.url, digest, path)
        ref = source.config_map
        if ref is None or self._kube is None:
            raise InvalidError("the artifact names no source this worker can fetch")
        where = f"ConfigMap {ref.namespace}/{ref.name} key {ref.key}"
        config_map = await self._kube.get_object("ConfigMap", ref.name, ref.namespace)
        encoded = (config_map.get("binaryData") or {}).get(ref.key)
        if encoded is None:
            raise NotFoundError(f"{where}: no such key in binaryData")
        path.write_bytes(base64.b64decode(encoded))
        digest = checked(f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}", source, where)
        return Located(where, where, digest, path)

    def content(self, source: Source, located: Located, workdir: Path) -> tuple[Path, str]:
        """The bytes of a package or WASM artifact on disk, and their own sha256 digest (for
        an OCI artifact: its layer's, fetched by the pinned manifest). Blocking."""
        if located.path is not None:
            return located.path, located.digest
        host = located.fetch_from.split("/", 1)[0]
        fetched = fetch_layer(
            located.fetch_from,
            workdir / "layer",
            media_types=LAYERS[source.kind],
            insecure=self.insecure(host),
        )
        return fetched.path, fetched.layer_digest
