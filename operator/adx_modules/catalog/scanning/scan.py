"""One artifact, every scanner, one report: the findings, the score and the counts by severity.

Why it exists: the scan workflow's activity (and a reviewer at a terminal) need a single call
that takes a fetched artifact and the module's spec and answers "what is wrong, and how bad":
a package is unpacked safely (a hostile archive ends the scan there, score 0), then matched
against the malware signatures, scanned by Trivy and its manifest analysed; a WASM binary is
analysed statically and matched against the signatures. Scanner failures are not verdicts:
they raise (``ScannerError``) so the caller retries rather than passing or failing a module.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.scanning import malware, manifest, trivy, wasm
from adx_modules.catalog.scanning.findings import Finding
from adx_modules.catalog.scanning.score import counts, score
from adx_modules.catalog.scanning.unpack import UnsafeArchiveError, unpack

RULES_REVISION = "3"  # bump when a scanner's own logic changes what it finds (3: ABI v1 names)


def rules_version() -> str:
    """What the scanners judge by, as one string: a change rescans every cached artifact."""
    digest = hashlib.sha256(RULES_REVISION.encode())
    for path in sorted(malware.SIGNATURES.glob("*.yar")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{RULES_REVISION}-{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class ScanReport:
    """What the scan found and what it is worth."""

    findings: tuple[Finding, ...]
    score: int
    counts: dict[str, int]

    @classmethod
    def of(cls, findings: list[Finding]) -> ScanReport:
        return cls(tuple(findings), score(findings), counts(findings))


def scan_package(archive: Path, spec: ModuleSpec, options: trivy.TrivyOptions) -> ScanReport:
    """An ``.adx`` package (or any tar of a module's files)."""
    workdir = Path(tempfile.mkdtemp(prefix="adx-scan-"))
    try:
        tree = workdir / "tree"
        try:
            files = unpack(archive, tree)
        except UnsafeArchiveError as refused:
            return ScanReport.of([refused.finding])
        findings = malware.scan_tree(tree, files)
        findings += trivy.scan_tree(tree, options)
        if "sbom.cdx.json" in files:  # the package's dependencies, from its lockfiles
            findings += trivy.scan_sbom(tree / "sbom.cdx.json", options)
        findings += manifest.analyze(spec)
        return ScanReport.of(findings)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def scan_image(
    reference: str, spec: ModuleSpec, options: trivy.TrivyOptions, *, insecure: bool
) -> ScanReport:
    """A container image in a registry, pinned by digest."""
    findings = trivy.scan_image(reference, options, insecure=insecure)
    findings += manifest.analyze(spec)
    return ScanReport.of(findings)


def scan_wasm(binary: bytes, spec: ModuleSpec, name: str = "module.wasm") -> ScanReport:
    """A WebAssembly binary."""
    findings = wasm.analyze(binary, spec.permissions, name)
    findings += malware.scan_bytes(binary, name)
    findings += manifest.analyze(spec)
    return ScanReport.of(findings)
