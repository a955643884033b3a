"""Status patches follow the conventions: transition times, abnormal-true, rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationStatus
from adx_modules.core.status import StatusUpdate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def _by_type(patch: dict) -> dict[str, dict]:
    return {condition["type"]: condition for condition in patch["conditions"]}


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = StatusUpdate(None, 1, T0).condition(c.RESOLVED, "True", r.PENDING, "one").patch()
    same = (
        StatusUpdate(first, 2, T1).condition(c.RESOLVED, "True", r.RESOLVED_REASON, "two").patch()
    )
    flipped = (
        StatusUpdate(same, 3, T1)
        .condition(c.RESOLVED, "False", r.MODULE_NOT_FOUND, "three")
        .patch()
    )
    assert _by_type(same)[c.RESOLVED]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert _by_type(same)[c.RESOLVED]["reason"] == r.RESOLVED_REASON
    assert _by_type(same)[c.RESOLVED]["observedGeneration"] == 2
    assert _by_type(flipped)[c.RESOLVED]["lastTransitionTime"] == "2026-01-01T00:05:00Z"


def test_reconciling_and_stalled_are_present_only_while_true() -> None:
    busy = StatusUpdate(None, 1, T0).reconciling(r.PROGRESSING, "step 2 of 5").patch()
    assert _by_type(busy)[c.RECONCILING]["status"] == "True"
    assert _by_type(busy)[c.READY]["status"] == "False"
    assert c.STALLED not in _by_type(busy)

    stuck = StatusUpdate(busy, 1, T1).stalled(r.BLOCKED, "approve it").patch()
    assert c.RECONCILING not in _by_type(stuck)
    assert _by_type(stuck)[c.STALLED]["reason"] == r.BLOCKED

    done = StatusUpdate(stuck, 2, T1).ready(r.SUCCEEDED, "active").patch()
    assert set(_by_type(done)) == {c.READY}
    assert _by_type(done)[c.READY]["status"] == "True"
    assert done["observedGeneration"] == 2


def test_ready_comes_first_and_other_fields_pass_through() -> None:
    patch = (
        StatusUpdate(None, 4, T0, ModuleInstallationStatus)
        .condition(c.RESOLVED, "True", r.RESOLVED_REASON, "")
        .ready(r.SUCCEEDED, "fine")
        .set(phase="Active", installed_version="1.0.0")
        .patch()
    )
    assert [x["type"] for x in patch["conditions"]] == [c.READY, c.RESOLVED]
    assert patch["phase"] == "Active"
    assert patch["installedVersion"] == "1.0.0"


def test_a_reason_the_taxonomy_does_not_know_is_refused() -> None:
    with pytest.raises(KeyError, match=r"'Fine' is not in adx_modules\.api\.reasons"):
        StatusUpdate(None, 1, T0).ready("Fine", "a reason spelled outside the taxonomy")


def test_fields_are_set_by_the_models_names_and_checked() -> None:
    update = StatusUpdate(None, 1, T0, ModuleInstallationStatus)
    patch = update.set(installed_version="2.0.0", workflow={"id": "w", "step": "x"}).patch()
    assert patch["installedVersion"] == "2.0.0"
    assert patch["workflow"] == {"id": "w", "step": "x", "progress": 0}
    with pytest.raises(KeyError, match="has no field 'installedVersoin'"):
        update.set(installedVersoin="2.0.0")
    with pytest.raises(ValueError, match=r"status\.phase: "):
        update.set(phase="Installed")
