"""A running installation is told when what it runs changes in the catalog, and keeps running:
its Module withdrawn (deleted), or rescanned below the minimum; told again when it is back."""

from __future__ import annotations

from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.catalog.model import Catalog
from adx_modules.installations.admission import catalog_warnings


def installation(phase: str = "Active", **conditions: tuple[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "charts", "namespace": "t1", "generation": 2},
        "spec": {"module": "charts"},
        "status": {
            "phase": phase,
            "installedVersion": "3.2.0",
            "observedGeneration": 2,
            "conditions": [
                {"type": t, "status": s, "reason": why, "message": ""}
                for t, (s, why) in conditions.items()
            ],
        },
    }


def module(phase: str, score: int | None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if score is not None:
        status["securityScore"] = score
    return {
        "metadata": {"name": "charts-3-2-0", "uid": "m1"},
        "spec": {
            "moduleId": "charts",
            "version": "3.2.0",
            "displayName": "Charts",
            "author": "tests",
            "runtime": "container",
            "artifact": {"image": {"reference": "registry.example.com/charts:3.2.0"}},
        },
        "status": status,
    }


def by_type(conditions: list[dict[str, Any]] | None) -> dict[str, tuple[str, str]]:
    assert conditions is not None
    return {x["type"]: (x["status"], x["reason"]) for x in conditions}


RUNNING = {
    c.READY: ("True", r.SUCCEEDED),
    c.RESOLVED: ("True", r.RESOLVED_REASON),
    c.SCANNED: ("True", r.SCAN_PASSED),
}


def test_a_withdrawn_module_is_said_and_the_installation_stays_ready() -> None:
    found = by_type(catalog_warnings(installation(**RUNNING), Catalog.from_objects([])))
    assert found[c.RESOLVED] == ("False", r.MODULE_WITHDRAWN)
    assert found[c.READY] == ("True", r.SUCCEEDED)  # it runs on
    # published again: resolved again
    withdrawn = installation(**{**RUNNING, c.RESOLVED: ("False", r.MODULE_WITHDRAWN)})
    back = by_type(catalog_warnings(withdrawn, Catalog.from_objects([module("Available", 90)])))
    assert back[c.RESOLVED] == ("True", r.RESOLVED_REASON)


def test_a_rescan_below_the_minimum_warns_and_a_passing_one_clears_it() -> None:
    rejected = Catalog.from_objects([module("Rejected", 40)])
    found = by_type(catalog_warnings(installation(**RUNNING), rejected))
    assert found[c.SCANNED] == ("False", r.SECURITY_SCORE_TOO_LOW)
    assert found[c.READY] == ("True", r.SUCCEEDED)
    warned = installation(**{**RUNNING, c.SCANNED: ("False", r.SECURITY_SCORE_TOO_LOW)})
    assert catalog_warnings(warned, rejected) is None  # said once
    cleared = by_type(catalog_warnings(warned, Catalog.from_objects([module("Available", 90)])))
    assert cleared[c.SCANNED] == ("True", r.SCAN_PASSED)


def test_nothing_is_written_while_a_workflow_is_at_work_or_nothing_changed() -> None:
    assert catalog_warnings(installation("Updating", **RUNNING), Catalog.from_objects([])) is None
    available = Catalog.from_objects([module("Available", 90)])
    assert catalog_warnings(installation(**RUNNING), available) is None
    unscanned = Catalog.from_objects([module("Available", None)])
    assert catalog_warnings(installation(**RUNNING), unscanned) is None
