"""Safe unpacking: each archive attack is refused with a finding naming the entry, and nothing
is left on disk; an ordinary package unpacks whole."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from adx_modules.catalog.scanning.unpack import Limits, UnsafeArchiveError, unpack


def archive(path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as out:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            out.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


def test_an_ordinary_package_unpacks(tmp_path: Path) -> None:
    source = archive(
        tmp_path / "ok.tgz",
        (entry("code", tarfile.DIRTYPE), b""),
        (entry("code/module.py"), b"print('hi')\n"),
        (entry("code/current", tarfile.SYMTYPE, "module.py"), b""),
        (entry("manifest.json"), b"{}"),
    )
    assert unpack(source, tmp_path / "out") == ["code/module.py", "manifest.json"]
    assert (tmp_path / "out" / "code" / "module.py").read_text() == "print('hi')\n"


@pytest.mark.parametrize(
    ("member", "rule", "named"),
    [
        (entry("../../etc/cron.d/x"), "path-traversal", "../../etc/cron.d/x"),
        (entry("code/../../x"), "path-traversal", "code/../../x"),
        (entry("/etc/passwd"), "absolute-path", "/etc/passwd"),
        (entry("code/l", tarfile.SYMTYPE, "/etc/shadow"), "link-escape", "code/l"),
        (entry("code/l", tarfile.SYMTYPE, "../../root"), "link-escape", "code/l"),
        (entry("code/h", tarfile.LNKTYPE, "../outside"), "link-escape", "code/h"),
        (entry("code/tty", tarfile.CHRTYPE), "special-file", "code/tty"),
        (entry("code/pipe", tarfile.FIFOTYPE), "special-file", "code/pipe"),
    ],
)
def test_attacks_are_refused_naming_the_entry(
    tmp_path: Path, member: tarfile.TarInfo, rule: str, named: str
) -> None:
    source = archive(tmp_path / "bad.tgz", (entry("first.txt"), b"fine"), (member, b"x"))
    with pytest.raises(UnsafeArchiveError) as refused:
        unpack(source, tmp_path / "out")
    assert (refused.value.finding.rule, refused.value.finding.location) == (rule, named)
    assert refused.value.finding.severity == "CRITICAL"
    assert not (tmp_path / "out").exists()  # nothing left, not even the first, fine entry
    assert not list(tmp_path.glob("**/first.txt"))


def test_bombs_and_floods_are_stopped(tmp_path: Path) -> None:
    zeros = archive(tmp_path / "zeros.tgz", (entry("zeros"), b"\0" * (8 * 2**20)))
    with pytest.raises(UnsafeArchiveError, match="compression ratio above 200:1"):
        unpack(zeros, tmp_path / "a")
    with pytest.raises(UnsafeArchiveError, match="more than 1 MiB"):
        unpack(zeros, tmp_path / "b", Limits(max_bytes=2**20, max_ratio=10**9))
    many = archive(tmp_path / "many.tgz", *((entry(f"f{i}"), b"x") for i in range(20)))
    with pytest.raises(UnsafeArchiveError, match="more than 10 entries") as refused:
        unpack(many, tmp_path / "c", Limits(max_files=10, max_ratio=10**9))
    assert refused.value.finding.location == "f10"
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c"))


def test_what_is_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.adx"
    junk.write_bytes(b"MZ\x90\x00 not a tar")
    with pytest.raises(UnsafeArchiveError, match="not a readable tar archive") as refused:
        unpack(junk, tmp_path / "out")
    assert refused.value.finding.location == "junk.adx"
