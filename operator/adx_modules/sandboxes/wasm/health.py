"""An installation's health in the WASM host, as a ``Healthy`` condition. Pure.

Why it exists: the host counts every call; a tenant looks at the installation's CR. One rule
turns the outcomes of the latest calls into the condition, so it is tested alone: too few calls
say nothing; half or more failed is ``Healthy=False ModuleFailing`` naming the last error; less
than that is healthy again (``ModuleServing``) once it was failing.
"""

from __future__ import annotations

from collections.abc import Sequence

from adx_modules.api import reasons as r
from adx_modules.api.meta import ConditionStatus

Judgement = tuple[ConditionStatus, str, str]

MIN_CALLS = 5
FAILING_SHARE = 0.5


def verdict(
    outcomes: Sequence[bool], last_error: str, p50_ms: float | None, p99_ms: float | None
) -> Judgement | None:
    """(status, reason, message) of ``Healthy`` from the latest outcomes (True: succeeded),
    or None while there are too few to judge."""
    calls = len(outcomes)
    if calls < MIN_CALLS:
        return None
    failed = sum(1 for ok in outcomes if not ok)
    if failed >= FAILING_SHARE * calls:
        return (
            "False",
            r.MODULE_FAILING,
            f"{failed} of its last {calls} calls failed in the WASM host; the last: {last_error}",
        )
    latency = f"p50 {p50_ms} ms, p99 {p99_ms} ms" if p50_ms is not None else "no latency yet"
    return (
        "True",
        r.MODULE_SERVING,
        f"{calls - failed} of its last {calls} calls succeeded in the WASM host ({latency})",
    )
