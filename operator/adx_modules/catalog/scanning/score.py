"""The security score: 0-100 from a scan's findings, and the counts the Module's status shows.

Why it exists: the install gate compares one number with ``security.min_security_score``, so the
number must be explainable from the findings alone. The formula (docs/scanning.md):

- **fatal** findings make the score 0 whatever else: a secret in the artifact, a malware
  signature, an archive that tried to escape or explode, a WASM binary that cannot run;
- otherwise start from 100 and subtract per finding: CRITICAL 25, HIGH 10, MEDIUM 3, LOW 1,
  INFO 0; a vulnerability that has a fixed version weighs half again as much (shipping it is a
  choice), rounded down; the score never goes below 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from adx_modules.catalog.scanning.findings import Finding, Severity

WEIGHTS: dict[Severity, float] = {"CRITICAL": 25, "HIGH": 10, "MEDIUM": 3, "LOW": 1, "INFO": 0}
FIXABLE_FACTOR = 1.5
FATAL_SCANNERS = {"malware", "unpack", "secret"}
FATAL_RULES = {("wasm", "malformed")}


def fatal(finding: Finding) -> bool:
    return finding.scanner in FATAL_SCANNERS or (finding.scanner, finding.rule) in FATAL_RULES


def score(findings: Iterable[Finding]) -> int:
    """0 (do not install) .. 100 (nothing found)."""
    penalty = 0.0
    for finding in findings:
        if fatal(finding):
            return 0
        weight = WEIGHTS[finding.severity]
        penalty += weight * FIXABLE_FACTOR if finding.fixable else weight
    return max(0, int(100 - penalty))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings by severity, in the Module status's keys (critical, high, medium, low)."""
    by_severity = Counter(finding.severity for finding in findings)
    return {level.lower(): by_severity[level] for level in ("CRITICAL", "HIGH", "MEDIUM", "LOW")}
