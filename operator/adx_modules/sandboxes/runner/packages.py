"""A module package (.adx) unpacked once per digest into a read-only directory.

Why it exists: every process of a module, and every revision on the same artifact, runs the same
code; unpacking it once per digest (into a staging directory, renamed into place, so a runner
killed half way leaves no half-unpacked package behind) and making it read-only keeps one copy
a module cannot change.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from adx_modules.catalog.scanning.unpack import unpack


def _target(packages: Path, digest: str) -> Path:
    return packages / digest.replace(":", "-")


def unpacked_code(packages: Path, digest: str) -> Path | None:
    """The code directory of ``digest`` when it is unpacked already."""
    code = _target(packages, digest) / "code"
    return code if code.is_dir() else None


def unpack_read_only(content: bytes, packages: Path, digest: str) -> Path:
    """Unpack ``content`` (the package of ``digest``) under ``packages``; its code directory.
    Two unpacking the same digest at once: the first rename wins, the other's copy is dropped."""
    target = _target(packages, digest)
    packages.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=packages.parent))
    try:
        archive = staging / "package.adx"
        archive.write_bytes(content)
        unpack(archive, staging / "unpacked")
        for path in (staging / "unpacked").rglob("*"):
            path.chmod(0o555 if path.is_dir() else 0o444)
        with contextlib.suppress(FileExistsError, OSError):
            (staging / "unpacked").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "code"
