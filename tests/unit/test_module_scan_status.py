"""A Module's status around its scan: Pending until the scan workflow decides, the verdict never
overwritten by the handler, scanning disabled said on every Module, and installations run the
artifact pinned to what was scanned."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.catalog.admission import module_outcome
from adx_modules.catalog.model import Catalog, CatalogEntry
from adx_modules.catalog.scanning.contract import ScanStatus, ScanVerdict
from adx_modules.catalog.scanning.verdict import scan_outcome

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32


def module(status: dict[str, Any] | None = None, **artifact: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "charts-1-0-0", "uid": "u1", "generation": 1},
        "spec": {
            "moduleId": "charts",
            "version": "1.0.0",
            "displayName": "Charts",
            "author": "tests",
            "runtime": "container",
            "artifact": artifact or {"image": {"reference": "registry.example.com/charts:1.0.0"}},
        },
        "status": status or {},
    }


def conditions(patch: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {x["type"]: (x["status"], x["reason"]) for x in patch.get("conditions", [])}


def verdict(score: int, minimum: int = 70) -> ScanVerdict:
    return ScanVerdict(
        reference=f"registry.example.com/charts@{DIGEST}",
        digest=DIGEST,
        db_version="2:2026-11-01",
        rules_version="1-abc",
        score=score,
        minimum=minimum,
        counts={"critical": 0, "high": 1, "medium": 2, "low": 0},
        findings=3,
        cached=False,
    )


def decide(body: dict[str, Any], score: int) -> dict[str, Any]:
    report = ScanStatus(module="charts-1-0-0", uid="u1", state="decided", verdict=verdict(score))
    return scan_outcome(body, report, NOW).patch


def judge(body: dict[str, Any], scanning: bool = True) -> Any:
    return module_outcome(body, Catalog.from_objects([body]), scanning_enabled=scanning, now=NOW)


def test_a_valid_module_waits_for_its_scan_and_asks_for_it() -> None:
    outcome = judge(module())
    assert outcome.accepted  # the handler starts the scan workflow
    assert outcome.patch["phase"] == "Pending"
    found = conditions(outcome.patch)
    assert found[c.SCANNED] == ("Unknown", r.SCAN_PENDING)
    assert found[c.READY] == ("False", r.SCAN_PENDING)
    assert found[c.ACCEPTED] == ("True", r.VALID)


def test_a_passing_verdict_makes_it_available_with_its_score_and_digest() -> None:
    patch = decide(module(), 87)
    assert patch["phase"] == "Available"
    assert patch["securityScore"] == 87
    assert patch["findings"] == {"critical": 0, "high": 1, "medium": 2, "low": 0}
    assert patch["digest"] == DIGEST
    assert patch["scannedReference"].endswith(f"@{DIGEST}")
    assert patch["databaseVersion"] == "2:2026-11-01"
    assert patch["scannedAt"] == "2026-11-30T12:00:00Z"
    assert conditions(patch)[c.SCANNED] == ("True", r.SCAN_PASSED)
    assert conditions(patch)[c.READY] == ("True", r.AVAILABLE)


def test_a_failing_verdict_rejects_it_saying_the_score_and_the_minimum() -> None:
    patch = decide(module(), 40)
    assert patch["phase"] == "Rejected"
    assert conditions(patch)[c.SCANNED] == ("False", r.SECURITY_SCORE_TOO_LOW)
    assert conditions(patch)[c.STALLED] == ("True", r.SECURITY_SCORE_TOO_LOW)
    assert "security score 40 (minimum 70)" in patch["message"]


def test_the_handler_never_overwrites_a_verdict_nor_a_scan_at_work() -> None:
    for score in (87, 40):
        decided = module(decide(module(), score))
        outcome = judge(decided)
        assert "phase" not in outcome.patch
        assert conditions(outcome.patch)[c.SCANNED] == conditions(decided["status"])[c.SCANNED]
        assert not outcome.accepted  # nothing to start: the scan decided
    scanning = ScanStatus(module="charts-1-0-0", uid="u1", state="scanning")
    at_work = module(scan_outcome(module(), scanning, NOW).patch)
    outcome = judge(at_work)
    assert "phase" not in outcome.patch
    assert outcome.accepted  # joined (the workflow id is the Module's), not started twice


def test_a_scanner_that_cannot_run_leaves_the_module_not_available() -> None:
    scanning = module(
        scan_outcome(module(), ScanStatus(module="m", uid="u1", state="scanning"), NOW).patch
    )
    retry = ScanStatus(
        module="m", uid="u1", state="retrying", reason=r.SCANNER_UNAVAILABLE, message="trivy: boom"
    )
    patch = scan_outcome(scanning, retry, NOW).patch
    assert "phase" not in patch  # still Scanning
    assert conditions(patch)[c.SCANNED] == ("Unknown", r.SCANNER_UNAVAILABLE)
    entry = CatalogEntry.from_object(module({**scanning["status"], **patch}))
    assert not entry.available


def test_scanning_disabled_is_said_on_the_module() -> None:
    outcome = judge(module(), scanning=False)
    assert outcome.patch["phase"] == "Available"
    assert conditions(outcome.patch)[c.SCANNED] == ("False", r.SCANNING_DISABLED)
    assert not outcome.accepted


def test_enabling_scanning_again_scans_a_module_made_available_unscanned() -> None:
    unscanned = module(judge(module(), scanning=False).patch)
    outcome = judge(unscanned)
    assert outcome.accepted
    assert outcome.patch["phase"] == "Pending"


def test_installations_run_the_artifact_as_scanned() -> None:
    pinned = f"registry.example.com/charts@{DIGEST}"
    image = CatalogEntry.from_object(module(decide(module(), 90)))
    spec = image.pinned_spec()
    assert spec is not None
    assert spec.artifact.image is not None
    assert spec.artifact.image.reference == pinned

    package = module(
        {"digest": DIGEST, "scannedReference": "registry.example.com/p@" + DIGEST},
        package={"oci": "registry.example.com/p:1.0.0"},
    )
    package["spec"]["runtime"] = "python"
    spec = CatalogEntry.from_object(package).pinned_spec()
    assert spec is not None
    assert spec.artifact.package is not None
    assert spec.artifact.package.oci == "registry.example.com/p@" + DIGEST

    by_url = module(
        {"digest": DIGEST, "scannedReference": "https://e.com/m.wasm"},
        wasm={"url": "https://e.com/m.wasm"},
    )
    by_url["spec"]["runtime"] = "wasm"
    spec = CatalogEntry.from_object(by_url).pinned_spec()
    assert spec is not None
    assert spec.artifact.wasm is not None
    assert spec.artifact.wasm.sha256 == DIGEST.removeprefix("sha256:")
    assert (
        CatalogEntry.from_object(module()).pinned_spec() == CatalogEntry.from_object(module()).spec
    )  # unscanned: as published
