"""The local OCI registry: the stack serves it on loopback and names it in the env file; an
artifact pushed through the OCI distribution API is fetched back by digest, byte for byte, and
is still there, at the same address, after the registry restarts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx

from adx_modules.devstack.registry import LocalRegistry
from adx_modules.devstack.toolchain import cache_dir
from support.stack import StackInfo

CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def push_blob(base: str, repository: str, data: bytes) -> str:
    digest = digest_of(data)
    started = httpx.post(f"{base}/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(base).join(started.headers["Location"])
    finished = httpx.put(location.copy_merge_params({"digest": digest}), content=data)
    assert finished.status_code == 201, finished.text
    return digest


def push_artifact(base: str, repository: str, tag: str, payload: bytes) -> str:
    """A one-layer OCI artifact; returns the manifest's digest."""
    config = b"{}"
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": "application/vnd.adx.module.v1",
        "config": {
            "mediaType": CONFIG_TYPE,
            "digest": push_blob(base, repository, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/wasm",
                "digest": push_blob(base, repository, payload),
                "size": len(payload),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    answer = httpx.put(
        f"{base}/v2/{repository}/manifests/{tag}",
        content=body,
        headers={"Content-Type": MANIFEST_TYPE},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["Docker-Content-Digest"] == digest_of(body)
    return digest_of(body)


def fetch_layer(base: str, repository: str, reference: str) -> bytes:
    manifest = httpx.get(
        f"{base}/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPE}
    )
    assert manifest.status_code == 200, manifest.text
    layer = manifest.json()["layers"][0]["digest"]
    blob = httpx.get(f"{base}/v2/{repository}/blobs/{layer}", follow_redirects=True)
    assert blob.status_code == 200
    assert digest_of(blob.content) == layer
    return blob.content


def test_the_stack_serves_a_registry_and_names_it(stack: StackInfo) -> None:
    address = stack.env["ADX_REGISTRY_ADDRESS"]
    assert address.startswith("127.0.0.1:")  # loopback only: plain HTTP never leaves the host
    assert stack.env["ADX_REGISTRY_INSECURE"] == "true"
    base = f"http://{address}"
    payload = b"\0asm\1\0\0\0 a module"
    digest = push_artifact(base, "tests/probe", "1.0.0", payload)
    assert fetch_layer(base, "tests/probe", digest) == payload
    assert "tests/probe" in httpx.get(f"{base}/v2/_catalog").json()["repositories"]
    missing = httpx.get(f"{base}/v2/tests/probe/manifests/sha256:{'0' * 64}")
    assert missing.status_code == 404


def test_artifacts_survive_a_restart_at_the_same_address(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path, cache_dir() / "bin")
    registry.launch()
    try:
        registry.wait_ready()
        base = f"http://{registry.address}"
        digest = push_artifact(base, "tenant/module", "2.0.0", b"payload that must persist")
    finally:
        registry.stop()
    again = LocalRegistry(tmp_path, cache_dir() / "bin")
    assert again.address == registry.address
    again.launch()
    try:
        again.wait_ready()
        assert fetch_layer(f"http://{again.address}", "tenant/module", digest) == (
            b"payload that must persist"
        )
    finally:
        again.stop()
