"""The score formula, as docs/scanning.md states it: fatal findings zero it, severities weigh
25/10/3/1/0, a fixable vulnerability half again, never below 0."""

from __future__ import annotations

from adx_modules.catalog.scanning.findings import Finding
from adx_modules.catalog.scanning.score import counts, score


def finding(severity: str, scanner: str = "vulnerability", fixable: bool = False) -> Finding:
    return Finding(scanner, severity, "R", "m", fixable=fixable)  # type: ignore[arg-type]


def test_nothing_found_is_100() -> None:
    assert score([]) == 100


def test_weights() -> None:
    assert score([finding("CRITICAL")]) == 75
    assert score([finding("HIGH"), finding("MEDIUM"), finding("LOW"), finding("INFO")]) == 86
    assert score([finding("HIGH", fixable=True)]) == 85  # 10 * 1.5
    assert score([finding("CRITICAL", fixable=True), finding("LOW", fixable=True)]) == 61
    assert score([finding("CRITICAL")] * 5) == 0  # never negative


def test_fatal_findings_zero_the_score_whatever_their_severity() -> None:
    for fatal in (
        finding("LOW", scanner="secret"),
        finding("CRITICAL", scanner="malware"),
        finding("CRITICAL", scanner="unpack"),
        Finding("wasm", "CRITICAL", "malformed", "m"),
    ):
        assert score([fatal]) == 0
    assert score([Finding("wasm", "HIGH", "missing-export", "m")]) == 90


def test_counts_by_severity() -> None:
    found = [finding("CRITICAL"), finding("HIGH"), finding("HIGH"), finding("INFO")]
    assert counts(found) == {"critical": 1, "high": 2, "medium": 0, "low": 0}
