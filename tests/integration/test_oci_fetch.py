"""Fetching artifacts by digest from a real registry: the very bytes published come back; a tag
is refused; re-tagging after publishing changes nothing fetched by digest; bytes that do not
match their digest (tampered on the registry's disk) are refused and leave no file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from adx_modules.api.artifacts import PACKAGE_LAYER as MEDIA_TYPE
from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import scaffold
from adx_modules.clients.errors import InvalidError, NotFoundError
from adx_modules.clients.oci import fetch_layer
from adx_modules.devstack.registry import LocalRegistry
from adx_modules.devstack.toolchain import cache_dir


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    """A registry of this test's own: its disk is tampered with."""
    running = LocalRegistry(tmp_path / "state", cache_dir() / "bin")
    running.launch()
    running.wait_ready()
    yield running
    running.stop()


def package(tmp_path: Path, name: str, code: str) -> Path:
    directory = tmp_path / name
    scaffold(directory, "fetched", "python")
    (directory / "src" / "module.py").write_text(code)
    return build(directory / "manifest.json", tmp_path / f"{name}.adx").path


def test_the_published_bytes_come_back_and_a_retag_changes_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    first = package(tmp_path, "first", "print(1)\n")
    pinned = publish(first, registry.address, insecure=True).reference
    # the same tag (0.1.0) pushed again with other content: the tag moves, the digest does not
    second = package(tmp_path, "second", "print('changed')\n")
    moved = publish(second, registry.address, insecure=True).reference
    assert moved != pinned
    fetched = fetch_layer(pinned, tmp_path / "out.adx", media_types=(MEDIA_TYPE,), insecure=True)
    assert fetched.path.read_bytes() == first.read_bytes()
    assert fetched.manifest_digest == pinned.partition("@")[2]


def test_what_is_refused(registry: LocalRegistry, tmp_path: Path) -> None:
    pinned = publish(package(tmp_path, "p", "x = 1\n"), registry.address, insecure=True).reference
    target = tmp_path / "out"
    tagged = f"{registry.address}/adx-modules/fetched:0.1.0"
    with pytest.raises(InvalidError, match="not pinned by digest"):
        fetch_layer(tagged, target, media_types=(MEDIA_TYPE,))
    with pytest.raises(NotFoundError):
        fetch_layer(pinned[:-4] + "0000", target, media_types=(MEDIA_TYPE,), insecure=True)
    with pytest.raises(InvalidError, match="no layer of type application/wasm"):
        fetch_layer(pinned, target, media_types=("application/wasm",), insecure=True)
    with pytest.raises(InvalidError, match="over the 10 limit"):
        fetch_layer(pinned, target, media_types=(MEDIA_TYPE,), insecure=True, max_bytes=10)
    assert not target.exists()


def test_tampered_bytes_are_refused_and_leave_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    published = package(tmp_path, "t", "y = 2\n")
    pinned = publish(published, registry.address, insecure=True).reference
    layer = hashlib.sha256(published.read_bytes()).hexdigest()
    blob = registry.data_dir / "docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed on the registry's disk
    blob.write_bytes(bytes(data))
    target = tmp_path / "out.adx"
    with pytest.raises(InvalidError, match="do not match its digest"):
        fetch_layer(pinned, target, media_types=(MEDIA_TYPE,), insecure=True)
    assert not target.exists()
