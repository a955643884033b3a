"""A finding: one thing a scanner saw, how bad it is, and where.

Why it exists: every scanner (Trivy, WASM import analysis, malware signatures, the manifest
checks, safe unpacking) reports in the same shape, so scoring, the Module's status counts and the
stored findings treat them alike, and a finding always names the file or entry it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
SEVERITIES: tuple[Severity, ...] = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")


@dataclass(frozen=True)
class Finding:
    """``scanner`` saw ``rule`` at ``location``: ``message`` says what and what to do."""

    scanner: str
    severity: Severity
    rule: str
    message: str
    location: str = ""
    fixable: bool = False  # a vulnerability with a fixed version: no reason to ship it

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.severity} {self.scanner}/{self.rule}{where}: {self.message}"


def by_severity(findings: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Stored findings, the most severe first."""
    rank: dict[str, int] = {severity: index for index, severity in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: rank.get(str(f.get("severity")), len(rank)))


def worst(findings: Sequence[Mapping[str, object]], limit: int = 3) -> list[str]:
    """The ``limit`` most severe stored findings, one line each (what a Module's status names;
    the rest are in PostgreSQL)."""
    lines = []
    for found in by_severity(findings)[:limit]:
        where = f" ({found['location']})" if found.get("location") else ""
        lines.append(f"{found.get('severity')} {found.get('scanner')}/{found.get('rule')}{where}")
    return lines
