"""What the scan workflow and its activities exchange: names and payloads, no side effects.

Why it exists: workflows call activities by name with these payloads, so they import nothing
that does I/O (and replay deterministically), and the worker registers the activities under the
same names.
"""

from __future__ import annotations

from typing import Literal

from adx_modules.core.refs import Payload


class ScanActivities:
    """Activity names."""

    SCAN_ARTIFACT = "scan_artifact"


ArtifactKind = Literal["package", "wasm"]


class ScanRequest(Payload):
    """Scan the artifact ``reference`` (pinned by digest) of the Module ``module``."""

    module: str
    reference: str
    kind: ArtifactKind
    spec: dict[str, object]


class ScanVerdict(Payload):
    """What the scan found, and whether it came from the cache."""

    digest: str
    db_version: str
    rules_version: str
    score: int
    counts: dict[str, int]
    findings: int
    cached: bool
