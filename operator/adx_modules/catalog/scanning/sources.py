"""Where a Module's artifact is, and how its bytes are had: by digest, or checked against one.

Why it exists: what is scanned must be what runs. An OCI artifact or image is resolved to a
digest first (a tag is asked once, at the registry or its mirror) and everything after uses the
digest; a URL or ConfigMap has no registry to vouch for it, so its bytes are hashed, and checked
against the ``sha256`` the Module declares when it declares one. Blocking: run in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from adx_modules.api.module import ConfigMapKeyRef, ModuleSpec
from adx_modules.catalog.scanning.contract import ArtifactKind
from adx_modules.clients.errors import InvalidError, NotFoundError, UnavailableError
from adx_modules.clients.oci import Reference, save_stream

MAX_DOWNLOAD = 512 * 2**20


@dataclass(frozen=True)
class Source:
    """A Module's artifact: its kind and exactly one of an OCI reference, a URL, a ConfigMap."""

    kind: ArtifactKind
    oci: Reference | None = None
    url: str | None = None
    config_map: ConfigMapKeyRef | None = None
    sha256: str | None = None


def source_of(spec: ModuleSpec) -> Source:
    """Where ``spec``'s artifact lives (the schema guarantees exactly one source)."""
    artifact = spec.artifact
    if artifact.image is not None:
        return Source("image", oci=Reference.parse(artifact.image.reference))
    if artifact.wasm is not None:
        wasm = artifact.wasm
        oci = Reference.parse(wasm.oci) if wasm.oci else None
        return Source(
            "wasm", oci=oci, url=wasm.url, config_map=wasm.config_map_ref, sha256=wasm.sha256
        )
    if artifact.package is not None:
        package = artifact.package
        oci = Reference.parse(package.oci) if package.oci else None
        return Source("package", oci=oci, url=package.url, sha256=package.sha256)
    raise InvalidError("spec.artifact names no image, wasm or package")


def checked(data_digest: str, source: Source, where: str) -> str:
    """``data_digest`` (sha256:…), refused when the Module declared another."""
    if source.sha256 and data_digest != f"sha256:{source.sha256}":
        raise InvalidError(
            f"{where}: its SHA-256 is {data_digest.removeprefix('sha256:')}, the Module "
            f"declares {source.sha256}"
        )
    return data_digest


def download(url: str, target: Path, max_bytes: int = MAX_DOWNLOAD) -> str:
    """Save ``url`` to ``target`` (at most ``max_bytes``); its sha256 digest."""
    try:
        with requests.get(url, stream=True, timeout=30) as response:
            if response.status_code == 404:
                raise NotFoundError(f"{url}: not found", status=404)
            if response.status_code != 200:
                raise UnavailableError(f"{url}: answered {response.status_code}")
            digest, _ = save_stream(
                response, target, max_bytes, f"{url}: larger than {max_bytes} bytes"
            )
    except requests.RequestException as error:
        target.unlink(missing_ok=True)
        raise UnavailableError(f"{url}: cannot download ({error})") from None
    return digest
