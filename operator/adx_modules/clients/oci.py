"""Module artifacts in an OCI registry: pushed as one-layer artifacts, fetched by digest only and
proved to be the ones named.

Why it exists: what runs must be what was scanned, so an artifact is only ever fetched as
``registry/repository@sha256:…`` (a tag is first resolved, once, to the digest it names); the
manifest's bytes must hash to the digest asked for, the layer's bytes to the digest the
manifest names, and nothing larger than allowed is written. A mismatch leaves no file behind.
Transport, retries and registry credentials (the Docker config, as ``docker pull`` finds it,
``$DOCKER_CONFIG`` included) are the ``oras`` client's; this adds the proof. Calls are
blocking: async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oras.provider
import requests
from typing_extensions import override

from adx_modules.clients.errors import ClientError, InvalidError, NotFoundError, UnavailableError

PINNED = re.compile(
    r"^(?P<registry>[^/]+)/(?P<repository>[^@:]+(?:/[^@:]+)*)@(?P<digest>sha256:[a-f0-9]{64})$"
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
CHUNK = 1 << 16
UPLOAD_CHUNK = 1 << 20  # a pushed layer goes up in chunks of this size when progress is shown

Progress = Callable[[int, int], None]
"""Told (bytes sent, bytes in all) after every chunk of a push."""


class _CountingRegistry(oras.provider.Registry):  # type: ignore[misc]
    """The oras client, counting the bytes of each chunk it sends (its only hook)."""

    def __init__(self, *args: Any, on_sent: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_sent = on_sent

    @override
    def do_request(
        self,
        url: str,
        method: str = "GET",
        data: dict[str, Any] | bytes | None = None,
        headers: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        response: requests.Response = super().do_request(url, method, data, headers, json, stream)
        if method == "PATCH" and isinstance(data, bytes) and response.status_code < 300:
            self._on_sent(len(data))
        return response


@dataclass(frozen=True)
class Fetched:
    """An artifact's layer on disk, with the digests that prove it."""

    manifest_digest: str
    layer_digest: str
    media_type: str
    path: Path
    size: int


def parse_pinned(reference: str) -> tuple[str, str, str]:
    """(registry, repository, digest) of ``registry/repository@sha256:…``; a tag is refused."""
    match = PINNED.match(reference)
    if not match:
        raise InvalidError(
            f"{reference}: not pinned by digest (registry/repository@sha256:<64 hex>); "
            "artifacts are fetched by digest only"
        )
    return match.group("registry"), match.group("repository"), match.group("digest")


def load_credentials(client: oras.provider.Registry, container: Any) -> None:
    """Registry credentials as ``docker`` finds them: ``$DOCKER_CONFIG/config.json`` (how a
    Secret is mounted in a pod), else ``~/.docker/config.json``."""
    directory = os.environ.get("DOCKER_CONFIG")
    configs = [str(Path(directory, "config.json"))] if directory else None
    client.auth.load_configs(container, configs=configs)


@dataclass(frozen=True)
class Reference:
    """An artifact or image reference, split: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, reference: str) -> Reference:
        """As ``docker pull`` reads it: no registry means Docker Hub (``library/`` for one
        path component); no tag and no digest means ``latest``."""
        name, _, digest = reference.partition("@")
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = "docker.io", name if rest else f"library/{name}"
        if digest and not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
            raise InvalidError(f"{reference}: the digest is not sha256:<64 lowercase hex>")
        if not repository or not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", repository):
            raise InvalidError(f"{reference}: {repository!r} is not a repository name")
        return cls(registry, repository, tag if tag or digest else "latest", digest or None)

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"


def resolve_digest(reference: Reference, *, host: str | None = None, insecure: bool = False) -> str:
    """The digest ``reference`` names now: its own, or the one its tag points at (asked of
    ``host``, a mirror of its registry, when given)."""
    if reference.digest:
        return reference.digest
    registry = host or reference.registry
    client = oras.provider.Registry(hostname=registry, insecure=insecure)
    container = client.get_container(f"{registry}/{reference.repository}:{reference.tag}")
    load_credentials(client, container)
    url = f"{client.prefix}://{registry}/v2/{reference.repository}/manifests/{reference.tag}"
    accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
    try:
        response = client.do_request(url, "HEAD", headers={"Accept": accept})
    except requests.RequestException as error:
        raise UnavailableError(f"{url}: the registry did not answer ({error})") from None
    if response.status_code == 404:
        raise NotFoundError(f"{registry}/{reference.repository}:{reference.tag}: no such tag")
    if response.status_code != 200:
        raise UnavailableError(f"{url}: the registry answered {response.status_code}")
    digest = str(response.headers.get("Docker-Content-Digest", ""))
    if not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        raise InvalidError(f"{url}: the registry named no sha256 digest for the tag")
    return digest


def _get(client: oras.provider.Registry, url: str, accept: str, stream: bool) -> requests.Response:
    try:
        response: requests.Response = client.do_request(
            url, "GET", headers={"Accept": accept}, stream=stream
        )
    except requests.RequestException as error:
        raise UnavailableError(f"{url}: the registry did not answer ({error})") from None
    if response.status_code == 404:
        raise NotFoundError(f"{url}: not in the registry", status=404)
    if response.status_code in (401, 403):
        raise UnavailableError(f"{url}: the registry refused our credentials", status=403)
    if response.status_code != 200:
        raise UnavailableError(f"{url}: the registry answered {response.status_code}")
    return response


def fetch_layer(
    reference: str,
    target: Path,
    *,
    media_types: tuple[str, ...],
    insecure: bool = False,
    max_bytes: int = 512 * 2**20,
) -> Fetched:
    """Download the layer of ``media_types`` from the artifact ``reference`` into ``target``."""
    registry, repository, digest = parse_pinned(reference)
    client = oras.provider.Registry(hostname=registry, insecure=insecure)
    container = client.get_container(f"{registry}/{repository}@{digest}")
    load_credentials(client, container)
    base = f"{client.prefix}://{registry}/v2/{repository}"
    raw = _get(client, f"{base}/manifests/{digest}", ", ".join(MANIFEST_TYPES), False).content
    if f"sha256:{hashlib.sha256(raw).hexdigest()}" != digest:
        raise InvalidError(f"{reference}: the registry's manifest does not match the digest")
    try:
        layers = json.loads(raw).get("layers") or []
    except (ValueError, AttributeError):
        raise InvalidError(f"{reference}: the manifest is not JSON") from None
    layer = next((item for item in layers if item.get("mediaType") in media_types), None)
    if layer is None:
        raise InvalidError(f"{reference}: no layer of type {' or '.join(media_types)}")
    size, layer_digest = int(layer.get("size", 0)), str(layer.get("digest", ""))
    if size > max_bytes:
        raise InvalidError(f"{reference}: the layer is {size} bytes, over the {max_bytes} limit")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _get(client, f"{base}/blobs/{layer_digest}", "*/*", True) as response:
        saved, written = save_stream(
            response, target, max_bytes, f"{reference}: the layer is larger than it says"
        )
    if saved != layer_digest:
        target.unlink(missing_ok=True)
        raise InvalidError(f"{reference}: the layer's bytes do not match its digest")
    return Fetched(digest, layer_digest, str(layer["mediaType"]), target, written)


def save_stream(
    response: requests.Response, target: Path, max_bytes: int, too_large: str
) -> tuple[str, int]:
    """Write a streamed response to ``target``, at most ``max_bytes`` (else InvalidError
    ``too_large``); its sha256 digest and size. On any failure nothing is left behind."""
    hasher, written = hashlib.sha256(), 0
    try:
        with target.open("wb") as out:
            for chunk in response.iter_content(chunk_size=CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise InvalidError(too_large)
                hasher.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return f"sha256:{hasher.hexdigest()}", written


@dataclass(frozen=True)
class Layer:
    """The one layer of an artifact to push, and its config."""

    path: Path
    media_type: str
    config: bytes = b"{}"
    config_type: str = "application/vnd.oci.empty.v1+json"


def reachable(registry: str, insecure: bool) -> None:
    """Fail in seconds on a registry that is not there (the client's own retries back off for
    about two minutes: right for a hiccup mid-push, wrong for a typo in an address)."""
    scheme = "http" if insecure else "https"
    try:
        requests.get(f"{scheme}://{registry}/v2/", timeout=10)  # 200 or 401: it is a registry
    except requests.RequestException as error:
        raise UnavailableError(f"{registry}: the registry does not answer ({error})") from None


def push(
    registry: str,
    repository: str,
    tag: str,
    layer: Layer,
    *,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    insecure: bool = False,
    progress: Progress | None = None,
) -> str:
    """Push ``layer`` as ``registry/repository:tag``; the manifest's digest. With
    ``progress``, the layer goes up in chunks and each one is reported."""
    reachable(registry, insecure)
    data = layer.path.read_bytes()
    sent = [0]

    def on_sent(count: int) -> None:
        sent[0] += count
        if progress is not None:
            progress(min(sent[0], len(data)), len(data))

    client = _CountingRegistry(hostname=registry, insecure=insecure, on_sent=on_sent)
    container = client.get_container(f"{registry}/{repository}:{tag}")
    load_credentials(client, container)
    layer_descriptor = {
        "mediaType": layer.media_type,
        "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
        "size": len(data),
        "annotations": {"org.opencontainers.image.title": layer.path.name},
    }
    config_descriptor = {
        "mediaType": layer.config_type,
        "digest": f"sha256:{hashlib.sha256(layer.config).hexdigest()}",
        "size": len(layer.config),
    }
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_descriptor,
        "layers": [layer_descriptor],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = dict(annotations)
    try:
        with tempfile.TemporaryDirectory(prefix="adx-push-") as scratch:
            config_file = Path(scratch, "config.json")
            config_file.write_bytes(layer.config)
            for blob, descriptor in (
                (layer.path, layer_descriptor),
                (config_file, config_descriptor),
            ):
                chunked = progress is not None and blob == layer.path
                answer = client.upload_blob(
                    str(blob), container, descriptor, do_chunked=chunked, chunk_size=UPLOAD_CHUNK
                )
                if answer.status_code not in (200, 201, 202):
                    raise ClientError(
                        f"{registry}: the blob upload was refused ({answer.text[:300]})"
                    )
        if progress is not None and sent[0] < len(data):  # the registry had it already
            progress(len(data), len(data))
        answer = client.upload_manifest(document, container)
    except (requests.RequestException, ValueError) as error:
        raise UnavailableError(f"{registry}: cannot push ({error})") from None
    if answer.status_code != 201:
        raise ClientError(f"{registry}: the manifest was refused ({answer.text[:300]})")
    manifest = json.dumps(document).encode()  # what requests sent (json=document)
    return str(
        answer.headers.get("Docker-Content-Digest")
        or f"sha256:{hashlib.sha256(manifest).hexdigest()}"
    )
