"""``adx-module-cli package``: a module's directory as a reproducible ``.adx`` archive.

Why it exists: what the service scans, pins by digest and runs is one file, so the file must
depend only on its inputs: the same manifest and code give byte-identical archives (and so the
same digest) on any machine, at any time. That is what lets a digest scanned once stand for every
later fetch, and a reviewer rebuild a package to check it.

Layout (a gzip-compressed tar, every entry owned by 0:0, dated 1980-01-01, mode 0644 or 0755,
in sorted order)::

    manifest.json       the manifest, canonical JSON (sorted keys)
    code/...            the module's files (the manifest's directory, less the ignored ones)
    sbom.cdx.json       CycloneDX SBOM of the dependencies pinned by the lockfile, if any
    SHA256SUMS          the digest of every other entry

A python module's extension points are read from its code (``adx_module_sdk.points``) and written
into the packaged manifest, so the Module published from it declares exactly what the code serves.

Ignored: dot-files and dot-directories (``.git``, ``.venv``), ``__pycache__``,
``node_modules``, earlier ``*.adx`` files, and the globs listed in ``.adxignore``.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adx_module_sdk
from adx_modules.authoring.errors import InputError
from adx_modules.authoring.lockfiles import sbom
from adx_modules.authoring.manifest import MANIFEST, load_manifest

EPOCH = 315532800  # 1980-01-01T00:00:00Z: zip's epoch, the usual floor for reproducible builds
IGNORED_DIRS = {"__pycache__", "node_modules"}
MAX_FILES = 10_000
MAX_BYTES = 512 * 2**20


@dataclass(frozen=True)
class Package:
    """A built package: where it is, its digest, and what it holds."""

    path: Path
    digest: str  # sha256:<hex>
    size: int
    files: tuple[str, ...]
    manifest: dict[str, Any]  # as packaged: with the extension points read from the code


MIGRATION_FILE = re.compile(r"^([0-9]{3,4})_[a-z0-9_]{1,64}\.sql$")


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    if any(part.startswith(".") or part in IGNORED_DIRS for part in parts):
        return True
    if relative.endswith(".adx"):
        return True
    return any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)


def module_files(root: Path) -> list[Path]:
    """The files a package of ``root`` carries, sorted; symlinks and special files are refused
    (a package carries bytes, never references to the author's machine)."""
    ignore = root / ".adxignore"
    patterns = [
        line.strip()
        for line in (ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else [])
        if line.strip() and not line.startswith("#")
    ]
    found: list[Path] = []
    total = 0
    for directory, dirnames, filenames in os.walk(root):  # symlinked dirs are listed, not walked
        here = Path(directory)
        dirnames[:] = sorted(
            d for d in dirnames if not _ignored((here / d).relative_to(root).as_posix(), patterns)
        )
        for path in [here / name for name in sorted(filenames)] + [here / d for d in dirnames]:
            relative = path.relative_to(root).as_posix()
            if relative == MANIFEST or _ignored(relative, patterns):
                continue
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise InputError(f"{path}: a symlink or special file; a package carries files only")
            if path.is_file():
                total += path.stat().st_size
                found.append(path)
    if len(found) > MAX_FILES or total > MAX_BYTES:
        raise InputError(
            f"{root}: {len(found)} files, {total} bytes: a package holds at most "
            f"{MAX_FILES} files and {MAX_BYTES // 2**20} MiB"
        )
    return found


def _entry(archive: tarfile.TarFile, name: str, data: bytes, executable: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = EPOCH
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))


def declared_migrations(root: Path) -> list[dict[str, Any]]:
    """The module's ``migrations/NNN_name.sql`` files, in version order, with their digests."""
    directory = root / "migrations"
    if not directory.is_dir():
        return []
    found: dict[int, dict[str, Any]] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue
        match = MIGRATION_FILE.match(path.name)
        if match is None or not path.is_file() or path.is_symlink():
            raise InputError(
                f"{path}: a migration is a file named NNN_name.sql (lowercase, digits, _)"
            )
        version = int(match[1])
        if version in found:
            raise InputError(f"{path}: version {version} is {found[version]['name']} already")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[version] = {"version": version, "name": path.name, "sha256": digest}
    return [found[version] for version in sorted(found)]


def with_declared_points(document: dict[str, Any], root: Path) -> dict[str, Any]:
    """The manifest with the extension points an SDK module's code declares (its routes,
    workflows, UI, tables) and its migrations in place of what the manifest says of them."""
    if document.get("runtime") in ("python", "javascript"):
        migrations = declared_migrations(root)
        if migrations:
            declared = {**(document.get("extensionPoints") or {}), "migrations": migrations}
            document = {**document, "extensionPoints": declared}
    runtime = document.get("runtime")
    if runtime == "python" and (root / "src" / "module.py").is_file():
        reader = [sys.executable, "-I", "-B", "-m", "adx_module_sdk.points", str(root)]
    elif runtime == "javascript" and (root / "src" / "module.js").is_file():
        node = shutil.which("node")
        if node is None:
            raise InputError("node is needed to read a javascript module's extension points")
        sdk = Path(adx_module_sdk.__file__).parent / "js"
        reader = [node, "--import", str(sdk / "register.mjs"), str(sdk / "points.mjs"), str(root)]
    else:
        return document
    found = subprocess.run(
        reader, capture_output=True, text=True, check=False, timeout=60, cwd=root
    )
    if found.returncode != 0:
        last = (found.stderr.strip().splitlines() or [f"it exited {found.returncode}"])[-1]
        raise InputError(f"{root / 'src'}: the module's extension points cannot be read: {last}")
    answer = found.stdout.strip().splitlines()
    points = json.loads(answer[-1]) if answer else None  # the last line: its own output first
    if not points:
        return document
    return {**document, "extensionPoints": {**(document.get("extensionPoints") or {}), **points}}


def canonical_json(document: Any) -> bytes:
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def build(manifest_path: Path, output: Path) -> Package:
    """Check the manifest, then write the archive to ``output`` (atomically)."""
    manifest_path = manifest_path.resolve()
    load_manifest(manifest_path)  # refuses a bad manifest before anything is written
    root = manifest_path.parent
    document = with_declared_points(json.loads(manifest_path.read_text(encoding="utf-8")), root)
    entries: list[tuple[str, bytes, bool]] = [(MANIFEST, canonical_json(document), False)]
    for path in module_files(root):
        if path.resolve() == output.resolve():
            continue
        executable = bool(path.stat().st_mode & 0o111)
        entries.append((f"code/{path.relative_to(root).as_posix()}", path.read_bytes(), executable))
    bom = sbom(root, document)
    if bom is not None:
        entries.append(("sbom.cdx.json", canonical_json(bom), False))
    entries.sort(key=lambda entry: entry[0])
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data, _ in entries)
    entries.append(("SHA256SUMS", sums.encode(), False))

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data, executable in entries:
            _entry(archive, name, data, executable)
    compressed = io.BytesIO()
    # mtime=0 and no file name in the gzip header: the bytes depend on the content only
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes.getvalue())
    data = compressed.getvalue()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_bytes(data)
    partial.replace(output)
    return Package(
        path=output,
        digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
        size=len(data),
        files=tuple(name for name, _, _ in entries),
        manifest=document,
    )
