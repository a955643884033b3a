"""An installation's Healthy condition from its latest calls in the WASM host."""

from __future__ import annotations

from adx_modules.api import reasons as r
from adx_modules.sandboxes.wasm.health import MIN_CALLS, verdict


def test_too_few_calls_say_nothing() -> None:
    assert verdict([False] * (MIN_CALLS - 1), "Trap: boom", None, None) is None


def test_half_failed_is_failing_and_names_the_last_error() -> None:
    judged = verdict([True, False] * 5, "Trap: unreachable", 1.0, 2.0)
    assert judged is not None
    assert judged[:2] == ("False", r.MODULE_FAILING)
    assert judged[2] == (
        "5 of its last 10 calls failed in the WASM host; the last: Trap: unreachable"
    )


def test_mostly_succeeding_is_serving_with_its_latency() -> None:
    judged = verdict([True] * 9 + [False], "Trap: once", 0.4, 1.5)
    assert judged == (
        "True",
        r.MODULE_SERVING,
        "9 of its last 10 calls succeeded in the WASM host (p50 0.4 ms, p99 1.5 ms)",
    )
