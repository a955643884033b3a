"""From the scan workflow's report to the Module's status: phase, score, counts, conditions.

Why it exists: the scan workflow is the only writer of a Module's verdict, and what it writes
must read the same whoever looks (``kubectl get modules``, the install gate, kstatus): the
phase, the score, the counts by severity, the pinned artifact, and a ``Scanned`` condition whose
reason says why. Pure: the caller brings the Module and the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.module import ModuleStatus
from adx_modules.catalog.scanning.contract import ScanStatus, ScanVerdict
from adx_modules.core.status import Outcome, StatusUpdate, generation


def summary(verdict: ScanVerdict) -> str:
    counts = verdict.counts
    found = ", ".join(f"{counts.get(level, 0)} {level}" for level in ("critical", "high"))
    more = ", ".join(f"{counts.get(level, 0)} {level}" for level in ("medium", "low"))
    named = f" (worst: {'; '.join(verdict.worst)})" if verdict.worst else ""
    return (
        f"security score {verdict.score} (minimum {verdict.minimum}); findings: {found}, "
        f"{more}{named}; {verdict.reference}"
    )


def scan_outcome(body: Mapping[str, Any], report: ScanStatus, now: datetime) -> Outcome:
    """The Module's status after ``report``."""
    status = body.get("status") or {}
    update = StatusUpdate(status, generation(body), now, ModuleStatus)
    verdict = report.verdict
    if report.state == "scanning":
        message = "scanning the artifact"
        update.condition(c.SCANNED, "Unknown", r.SCANNING, message)
        update.reconciling(r.SCANNING, message).set(phase="Scanning", message=message)
    elif report.state == "retrying":  # the phase stays: Scanning, or a rescan's old verdict
        update.condition(c.SCANNED, "Unknown", report.reason, report.message)
        update.set(message=f"scan retried: {report.message}")
    elif report.state == "failed":
        update.condition(c.SCANNED, "False", report.reason, report.message)
        update.stalled(report.reason, report.message).set(phase="Rejected", message=report.message)
    elif verdict is not None:
        message = summary(verdict)
        update.set(
            security_score=verdict.score,
            findings=verdict.counts,
            digest=verdict.digest,
            scanned_reference=verdict.reference,
            database_version=verdict.db_version,
            scanned_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            message=message,
        )
        if verdict.passed:
            update.condition(c.SCANNED, "True", r.SCAN_PASSED, message)
            update.ready(r.AVAILABLE, f"installable: {message}").set(phase="Available")
        else:
            why = f"below the minimum: {message}"
            update.condition(c.SCANNED, "False", r.SECURITY_SCORE_TOO_LOW, why)
            update.stalled(r.SECURITY_SCORE_TOO_LOW, why).set(phase="Rejected")
    return Outcome(update.patch(), update.ready_event(status))
