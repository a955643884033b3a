"""What the scan workflow and its activities exchange: names and payloads, no side effects.

Why it exists: workflows call activities by name with these payloads, so they import nothing
that does I/O (and replay deterministically), and the worker registers the activities under the
same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from adx_modules.core.refs import Payload


class ScanActivities:
    """Activity names, and the workflow's id scheme."""

    SCAN_ARTIFACT = "scan_artifact"
    REPORT_SCAN = "report_scan"
    REFRESH_DATABASE = "refresh_vulnerability_database"
    RESCAN_OUTDATED = "rescan_outdated_modules"
    SCAN_WORKFLOW = "ScanModule"
    WATCH_WORKFLOW = "WatchVulnerabilityDatabase"

    @staticmethod
    def watch_id(task_queue: str) -> str:
        """One database watch per task queue (per deployment of the service)."""
        return f"vulnerability-database-watch-{task_queue}"

    @staticmethod
    def workflow_id(uid: str) -> str:
        """One scan workflow per Module object (a rescan is a new run of the same id)."""
        return f"module-scan-{uid}"


ArtifactKind = Literal["image", "package", "wasm"]


class ScanRequest(Payload):
    """Scan the artifact of the Module ``module`` (uid ``uid``), as its ``spec`` names it."""

    module: str
    uid: str
    spec: dict[str, object]
    rescan: bool = False
    """A Module that has a verdict already: it stays as it is until the new one."""

    @classmethod
    def of(cls, module: Mapping[str, Any], *, rescan: bool = False) -> ScanRequest:
        """The scan of a Module as the apiserver returns it."""
        metadata = module.get("metadata") or {}
        return cls(
            module=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            spec=dict(module.get("spec") or {}),
            rescan=rescan,
        )


class ScanVerdict(Payload):
    """What the scan found, whether it passes, and whether it came from the cache."""

    reference: str
    """The artifact as scanned, pinned by digest (what installations run)."""
    digest: str
    db_version: str
    rules_version: str
    score: int
    minimum: int
    counts: dict[str, int]
    findings: int
    cached: bool
    worst: list[str] = []
    """The most severe findings, one line each (all of them are in PostgreSQL)."""

    @property
    def passed(self) -> bool:
        return self.score >= self.minimum


ScanState = Literal["scanning", "retrying", "failed", "decided"]


class ScanStatus(Payload):
    """What the scan workflow shows on its Module: at work, retrying, failed, or decided."""

    module: str
    uid: str
    state: ScanState
    reason: str = ""
    message: str = ""
    verdict: ScanVerdict | None = None


class DatabaseWatch(Payload):
    """The database watch's state: how often to look, and the version it last rescanned for."""

    check_seconds: int
    seen: str = ""
