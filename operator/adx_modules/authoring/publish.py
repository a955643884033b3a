"""``adx-module-cli publish``: push a package or a WASM binary to an OCI registry and write the
``Module`` that pins it by digest.

Why it exists: what the service scans and runs is named by digest, never by a tag that can move.
Publishing is therefore one step that pushes the artifact (with the ``oras`` OCI client: proper
media types, an ``artifactType``, the manifest's annotations) and prints the Module whose
artifact is ``registry/repository@sha256:…`` plus the SHA-256 of the content itself, ready for
``kubectl apply -f -`` or a GitOps repository. The module's identity comes from the package's
own manifest (or ``--manifest`` for a ``.wasm``), so what is published is what was validated.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adx_modules.api.artifacts import (
    ARTIFACT_TYPE,
    EMPTY_CONFIG,
    PACKAGE_LAYER,
    WASM_CONFIG,
    WASM_LAYER,
)
from adx_modules.api.meta import API_VERSION
from adx_modules.authoring.errors import InputError
from adx_modules.authoring.manifest import MANIFEST, ModuleManifest, load_manifest
from adx_modules.catalog.model import describe_validation_error
from adx_modules.clients import oci
from adx_modules.clients.errors import ClientError

WASM_MAGIC = b"\0asm"
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


@dataclass(frozen=True)
class Published:
    """Where the artifact went and the Module that pins it."""

    reference: str  # registry/repository@sha256:...
    tag: str
    content_sha256: str
    module: dict[str, Any]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_manifest(path: Path) -> ModuleManifest:
    """The manifest inside an .adx package, after checking the package's own checksums."""
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            members = {m.name: m for m in archive.getmembers() if m.isfile()}
            if MANIFEST not in members or "SHA256SUMS" not in members:
                raise InputError(f"{path}: not an .adx package (no manifest.json or SHA256SUMS)")
            content = {name: archive.extractfile(m).read() for name, m in members.items()}  # type: ignore[union-attr]
    except (OSError, tarfile.TarError, EOFError) as error:
        raise InputError(f"{path}: not a readable .adx package ({error})") from None
    for line in content["SHA256SUMS"].decode().splitlines():
        digest, _, name = line.partition("  ")
        if name not in content or _sha256(content[name]) != digest:
            raise InputError(f"{path}: {name} does not match its checksum in SHA256SUMS")
    try:
        return ModuleManifest.model_validate(json.loads(content[MANIFEST]))
    except (ValueError, ValidationError) as error:
        detail = (
            describe_validation_error(error, "manifest")
            if isinstance(error, ValidationError)
            else str(error)
        )
        raise InputError(f"{path}: manifest.json: {detail}") from None


def module_name(module_id: str, version: str) -> str:
    """The Module object's name: ``analytics-2-1-0`` for analytics 2.1.0."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{module_id}-{version}".lower()).strip("-")[:253]


def _artifact(path: Path, manifest: Path | None) -> tuple[ModuleManifest, str]:
    """(manifest, layer media type) for ``path``."""
    if path.suffix == ".adx":
        found = package_manifest(path)
        if found.runtime not in ("python", "javascript"):
            raise InputError(
                f"{path}: manifest.runtime is {found.runtime}; a package runs on the python "
                "or javascript runner"
            )
        return found, PACKAGE_LAYER
    if path.suffix == ".wasm":
        if manifest is None:
            raise InputError(f"{path}: a .wasm needs --manifest (the module's manifest.json)")
        with path.open("rb") as handle:
            if handle.read(4) != WASM_MAGIC:
                raise InputError(f"{path}: not a WebAssembly binary (no \\0asm header)")
        found = load_manifest(manifest)
        if found.runtime != "wasm":
            raise InputError(f"{manifest}: manifest.runtime must be wasm to publish a .wasm")
        return found, WASM_LAYER
    raise InputError(f"{path}: publish takes an .adx package or a .wasm binary")


def _say(message: str) -> None:
    """Progress goes to stderr: stdout is the Module, for ``| kubectl apply -f -``."""
    print(message, file=sys.stderr, flush=True)


def progress_bar(sent: int, total: int, width: int = 30) -> str:
    """``[#########.....]  64%  1.6/2.5 MiB``: one line, redrawn in place."""
    fraction = sent / total if total else 1.0
    filled = int(fraction * width)
    mib = 2**20
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}  "
        f"{sent / mib:.1f}/{total / mib:.1f} MiB"
    )


def _bar(sent: int, total: int) -> None:
    """Draw the bar on a terminal (a log gets the start and end lines only)."""
    if sys.stderr.isatty():
        end = "\n" if sent >= total else ""
        print(f"\r{progress_bar(sent, total)}", end=end, file=sys.stderr, flush=True)


def publish(
    path: Path,
    registry: str,
    *,
    repository: str | None = None,
    insecure: bool = False,
    manifest: Path | None = None,
    progress: oci.Progress | None = None,
) -> Published:
    """Push ``path`` as ``registry/repository:version`` and return the pinned Module; the
    upload's progress is drawn on a terminal (or told to ``progress``)."""
    found, layer_type = _artifact(path, manifest)
    repository = repository or f"adx-modules/{found.module_id}"
    if not REPOSITORY.match(repository):
        raise InputError(f"--repository {repository!r}: not an OCI repository name")
    data = path.read_bytes()
    layer_digest = f"sha256:{_sha256(data)}"
    config_type, config = EMPTY_CONFIG, b"{}"
    if layer_type == WASM_LAYER:
        config_type = WASM_CONFIG
        config = json.dumps(
            {"architecture": "wasm", "os": "wasip1", "layerDigests": [layer_digest]},
            sort_keys=True,
        ).encode()
    started = time.monotonic()
    _say(f"pushing {path.name} ({len(data):,} bytes) to {registry}/{repository} ...")
    try:
        digest = oci.push(
            registry,
            repository,
            found.version,
            oci.Layer(path, layer_type, config, config_type),
            artifact_type=ARTIFACT_TYPE,
            annotations={
                "org.opencontainers.image.title": found.module_id,
                "org.opencontainers.image.version": found.version,
                "org.opencontainers.image.authors": found.author,
            },
            insecure=insecure,
            progress=progress or _bar,
        )
    except ClientError as error:
        raise InputError(f"cannot push: {error}") from None
    reference = f"{registry}/{repository}@{digest}"
    _say(f"pushed {reference} (tag {found.version}) in {time.monotonic() - started:.1f}s")
    kind = "package" if layer_type == PACKAGE_LAYER else "wasm"
    spec = found.model_dump(by_alias=True, exclude_defaults=True, exclude={"artifact"}, mode="json")
    spec["artifact"] = {kind: {"oci": reference, "sha256": _sha256(data)}}
    module = {
        "apiVersion": API_VERSION,
        "kind": "Module",
        "metadata": {"name": module_name(found.module_id, found.version)},
        "spec": spec,
    }
    return Published(reference, found.version, _sha256(data), module)
