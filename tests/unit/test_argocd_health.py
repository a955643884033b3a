"""The Argo CD health check (Lua) on statuses recorded from real runs of the operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lupa import LuaRuntime

ROOT = Path(__file__).parents[2]
SCRIPT = (ROOT / "manifests" / "gitops" / "argocd" / "health.lua").read_text()
RECORDED = ROOT / "tests" / "fixtures" / "statuses"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the script as Argo CD does: ``obj`` is a global table, the script returns ``hs``."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.eval("function(j) return j end")(_to_lua(lua, obj))
    result = lua.execute(SCRIPT)
    return str(result["status"]), str(result["message"] or "")


def _to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("installation-active", "Healthy"),
        ("installation-in-progress", "Progressing"),
        ("installation-awaiting-approval", "Degraded"),
        ("installation-failed", "Degraded"),
        ("installation-dry-run", "Suspended"),
        ("module-available", "Healthy"),
        ("module-rejected", "Degraded"),
        ("listing-linked", "Healthy"),
        ("listing-module-missing", "Degraded"),
    ],
)
def test_recorded_statuses_map_to_argocd_health(recorded: str, expected: str) -> None:
    obj = json.loads((RECORDED / f"{recorded}.json").read_text())
    status, message = health(obj)
    assert status == expected
    if expected in ("Degraded", "Suspended"):
        assert message, "a Degraded or Suspended status must say why"


def test_a_spec_not_yet_observed_is_progressing() -> None:
    obj = json.loads((RECORDED / "installation-active.json").read_text())
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert health(obj) == (
        "Progressing",
        f"waiting for the operator to observe generation {obj['metadata']['generation']}",
    )


def test_an_object_without_status_is_progressing() -> None:
    assert health({"metadata": {"name": "new", "generation": 1}}) == (
        "Progressing",
        "waiting for the operator",
    )
