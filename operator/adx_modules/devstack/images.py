"""Small real OCI images, assembled in code and pushed: the samples' and the tests' containers.

Why it exists: there is no container engine here, yet Modules of runtime ``container`` name
images that the scan must fetch and Trivy must read. An image is a config and gzipped tar layers
in a registry; this writes one from a mapping of paths to bytes, byte for byte the same for the
same files (sorted entries, zero times, fixed owners), so its digest is stable, and pushes it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from adx_modules.clients.oci import Layer, push

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"


def layer(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    """A gzipped tar of ``files`` (path -> content) and the digest of the uncompressed tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(files[path]), 0o644, 0
            info.uid = info.gid = 0
            tar.addfile(info, io.BytesIO(files[path]))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), f"sha256:{hashlib.sha256(plain).hexdigest()}"


def config(diff_id: str, entrypoint: list[str]) -> bytes:
    document = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": "65532"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def push_image(
    registry: str,
    repository: str,
    tag: str,
    files: Mapping[str, bytes],
    *,
    entrypoint: list[str] | None = None,
    insecure: bool = False,
) -> str:
    """Push a one-layer image of ``files`` as ``registry/repository:tag``; its pinned
    reference (``registry/repository@sha256:…``)."""
    compressed, diff_id = layer(files)
    with tempfile.TemporaryDirectory(prefix="adx-image-") as scratch:
        path = Path(scratch, "layer.tar.gz")
        path.write_bytes(compressed)
        digest = push(
            registry,
            repository,
            tag,
            Layer(path, LAYER_TYPE, config(diff_id, entrypoint or ["/module"]), CONFIG_TYPE),
            insecure=insecure,
        )
    return f"{registry}/{repository}@{digest}"


def python_package(name: str, version: str) -> dict[str, bytes]:
    """The files by which Trivy knows an installed Python package (its dist-info)."""
    root = f"usr/lib/python3.11/site-packages/{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return {f"{root}/METADATA": metadata.encode(), f"{root}/RECORD": b""}
