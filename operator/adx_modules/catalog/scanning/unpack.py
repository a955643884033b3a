"""Safe unpacking: a package (or an image layer) into a directory the scanners read, refusing
every entry that would write outside it or exhaust the machine.

Why it exists: an artifact is hostile until scanned, and the first thing done with it is
unpacking. Each of the classic archive attacks is refused with a finding that names the entry:
paths that climb out (``../``, zip-slip) or start at ``/``; symlinks and hard links whose target
leaves the tree; device files, FIFOs and the like; more files than a module has; more bytes than
a module needs, or a compression ratio only a bomb has. Nothing is written for a refused
archive: entries are checked as they stream, and the directory is removed on refusal.
"""

from __future__ import annotations

import posixpath
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from adx_modules.catalog.scanning.findings import Finding

SCANNER = "unpack"


@dataclass(frozen=True)
class Limits:
    """How much an archive may hold."""

    max_files: int = 10_000
    max_bytes: int = 512 * 2**20  # unpacked
    max_ratio: float = 200.0  # unpacked bytes per compressed byte


class UnsafeArchiveError(ValueError):
    """The archive was refused; ``finding`` names the entry and the reason."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


def _refuse(rule: str, message: str, entry: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(Finding(SCANNER, "CRITICAL", rule, message, entry))


def _inside(name: str) -> str:
    """The entry's normalized relative path, or a refusal if it leaves the tree."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse("absolute-path", "an absolute path", name)
    normalized = posixpath.normpath(name)
    if normalized == ".." or normalized.startswith("../"):
        raise _refuse("path-traversal", "climbs out of the archive (../)", name)
    return normalized


def _check_link(member: tarfile.TarInfo, path: str) -> None:
    target = member.linkname
    if member.issym():
        if target.startswith("/"):
            raise _refuse("link-escape", f"a symlink to the absolute path {target}", member.name)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    else:  # hard link: relative to the archive's root
        resolved = posixpath.normpath(target)
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        kind = "symlink" if member.issym() else "hard link"
        raise _refuse("link-escape", f"a {kind} to {target}, outside the archive", member.name)


def unpack(archive: Path, target: Path, limits: Limits | None = None) -> list[str]:
    """Unpack ``archive`` (tar, optionally gzip) into ``target`` (which must not exist); return
    the files written. On refusal, ``target`` is removed and UnsafeArchiveError raised."""
    limits = limits or Limits()
    compressed = max(archive.stat().st_size, 1)
    target.mkdir(parents=True)
    written: list[str] = []
    total = 0
    try:
        with tarfile.open(archive, mode="r:*") as source:
            for member in source:  # streamed: a bomb is stopped at its first excess byte
                path = _inside(member.name)
                if (
                    member.isdev()
                    or member.isfifo()
                    or not (member.isfile() or member.isdir() or member.issym() or member.islnk())
                ):
                    raise _refuse(
                        "special-file", "a device, FIFO or other special file", member.name
                    )
                if member.issym() or member.islnk():
                    _check_link(member, path)
                if len(written) + 1 > limits.max_files:
                    raise _refuse(
                        "too-many-files", f"more than {limits.max_files} entries", member.name
                    )
                total += member.size
                if total > limits.max_bytes:
                    raise _refuse(
                        "size-bomb",
                        f"unpacks to more than {limits.max_bytes // 2**20} MiB",
                        member.name,
                    )
                if total / compressed > limits.max_ratio:
                    raise _refuse(
                        "compression-bomb",
                        f"a compression ratio above {limits.max_ratio:.0f}:1",
                        member.name,
                    )
                # the "data" filter refuses what slipped past the checks above, again
                source.extract(member, target, filter="data")
                if member.isfile():
                    written.append(path)
    except UnsafeArchiveError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(target, ignore_errors=True)
        reason = " ".join(str(error).split())
        raise _refuse(
            "unreadable", f"not a readable tar archive ({reason})", archive.name
        ) from None
    return written
