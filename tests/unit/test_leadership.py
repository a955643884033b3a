"""Leader election's decisions (service/leadership.py) and the watch canary's judgement
(service/liveness.py): pure, on clocks the tests turn."""

from __future__ import annotations

import pytest

from adx_modules.core.errors import SettingsError
from adx_modules.core.settings import load_settings
from adx_modules.service.leadership import (
    LeaseRecord,
    LeaseRef,
    Observation,
    Timing,
    claim,
    lease_namespace,
    released,
)
from adx_modules.service.liveness import WatchCanary, verdict

WALL = "2026-01-01T00:00:00.000000Z"
LATER = "2026-01-01T00:00:02.000000Z"


def held_by(holder: str, renewed: str = WALL, transitions: int = 3) -> LeaseRecord:
    return LeaseRecord(holder, 15, WALL, renewed, transitions)


def seen(record: LeaseRecord | None, at: float) -> Observation:
    observation = Observation()
    observation.see(record, at)
    return observation


def test_a_missing_lease_is_created_with_us_as_the_holder() -> None:
    record = claim(None, seen(None, 0), me="a", now=0, wall=WALL, duration=15)
    assert record == LeaseRecord("a", 15, WALL, WALL, 0)
    assert record.spec() == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": WALL,
        "renewTime": WALL,
        "leaseTransitions": 0,
    }


def test_the_holder_renews_keeping_its_acquire_time_and_transitions() -> None:
    current = held_by("a")
    record = claim(current, seen(current, 100), me="a", now=100, wall=LATER, duration=15)
    assert record == LeaseRecord("a", 15, WALL, LATER, 3)


def test_a_standby_waits_while_the_holders_record_keeps_changing() -> None:
    observed = Observation()
    for now, renewed in ((0.0, WALL), (10.0, LATER), (20.0, "2026-01-01T00:00:04.000000Z")):
        current = held_by("a", renewed)
        observed.see(current, now)
        assert claim(current, observed, me="b", now=now, wall=WALL, duration=15) is None


def test_a_standby_takes_over_once_the_record_stood_still_for_the_lease_duration() -> None:
    current = held_by("a")
    observed = seen(current, 100)
    observed.see(current, 114.9)  # the same record again: the clock keeps running from 100
    assert claim(current, observed, me="b", now=114.9, wall=LATER, duration=15) is None
    taken = claim(current, observed, me="b", now=115, wall=LATER, duration=15)
    assert taken == LeaseRecord("b", 15, LATER, LATER, 4)


def test_expiry_is_judged_on_our_clock_never_on_the_holders_renew_time() -> None:
    # the holder's clock is an hour behind ours: its renewTime looks stale, but it changed
    # a moment ago as we watched, so it is alive
    stale_looking = held_by("a", renewed="2025-12-31T23:00:00.000000Z")
    observed = seen(held_by("a", renewed="2025-12-31T22:59:58.000000Z"), 0)
    observed.see(stale_looking, 50)
    assert claim(stale_looking, observed, me="b", now=51, wall=WALL, duration=15) is None
    # and one whose renewTime looks fresh is taken once it stood still long enough
    fresh_looking = held_by("a", renewed="2099-01-01T00:00:00.000000Z")
    observed = seen(fresh_looking, 0)
    assert claim(fresh_looking, observed, me="b", now=15, wall=WALL, duration=15) is not None


def test_the_holders_own_duration_decides_not_ours() -> None:
    current = LeaseRecord("a", 60, WALL, WALL, 0)
    observed = seen(current, 0)
    assert claim(current, observed, me="b", now=30, wall=WALL, duration=15) is None
    assert claim(current, observed, me="b", now=60, wall=WALL, duration=15) is not None


def test_a_released_lease_is_taken_at_once_counting_a_transition() -> None:
    current = released(held_by("a", transitions=3), LATER)
    assert current == LeaseRecord("", 1, LATER, LATER, 3)
    taken = claim(current, seen(current, 0), me="b", now=0, wall=LATER, duration=15)
    assert taken == LeaseRecord("b", 15, LATER, LATER, 4)


def test_renewals_may_take_half_the_deadline_and_never_run_past_it() -> None:
    timing = Timing(15, 10, 2)
    assert timing.attempt_timeout(since_renewed=2) == 5
    assert timing.attempt_timeout(since_renewed=8) == 2
    assert timing.attempt_timeout(since_renewed=10) == 0  # the deadline passed: lost


def test_the_lease_lives_in_the_pods_namespace_first() -> None:
    assert lease_namespace({"POD_NAMESPACE": "adx-system"}) == "adx-system"
    ref = LeaseRef("adx-system", "adx-module-operator")
    assert ref.field_selector == "metadata.namespace=adx-system,metadata.name=adx-module-operator"


def test_the_timings_must_leave_the_leader_time_to_stop_before_a_standby_takes_over() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"ADX_OPERATOR_RENEW_DEADLINE_SECONDS": "15"})
    assert "lease_duration_seconds (15) must exceed renew_deadline_seconds (15.0)" in str(
        caught.value
    )
    settings = load_settings(environ={})
    assert (
        settings.operator.leader_election,
        settings.operator.lease_duration_seconds,
        settings.operator.renew_deadline_seconds,
        settings.operator.retry_period_seconds,
    ) == (True, 15, 10, 2)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_canary_is_quiet_while_every_renewal_comes_back() -> None:
    clock = Clock()
    canary = WatchCanary(clock)
    for version in ("10", "11", "12"):
        canary.written(version)
        clock.now += 2
        canary.delivered(version)
    assert canary.silence() == 0


def test_the_canary_measures_from_the_oldest_renewal_still_missing() -> None:
    clock = Clock()
    canary = WatchCanary(clock)
    canary.written("10")
    clock.now = 2
    canary.written("11")
    clock.now = 4
    canary.written("12")
    canary.delivered("10")
    clock.now = 9
    assert canary.silence() == 7  # "11", written at 2, has not come back
    canary.delivered("99")  # another version (not ours) proves nothing about ours
    assert canary.silence() == 7
    canary.delivered("12")  # a later version: the watch folded "11" into it
    assert canary.silence() == 0


def test_the_canary_forgets_the_oldest_renewals_first() -> None:
    clock = Clock()
    canary = WatchCanary(clock)
    for version in range(5000):
        canary.written(str(version))
        clock.now += 1
    assert canary.silence() == 4096  # bounded memory, still far past any limit
    canary.delivered("4999")
    assert canary.silence() == 0


def test_healthz_fails_only_for_a_leader_whose_watch_went_silent_or_a_lost_lease() -> None:
    standby = verdict(state="standby", me="b", holder="a", silence=0, limit=180)
    assert standby == (True, {"role": "standby", "identity": "b", "leader": "a"})
    assert verdict(state="leader", me="a", holder="a", silence=180, limit=180)[0] is True
    healthy, body = verdict(state="leader", me="a", holder="a", silence=181, limit=180)
    assert not healthy
    assert "have not come back through the operator's watch" in body["reason"]
    assert verdict(state="lost", me="a", holder="a", silence=0, limit=180)[0] is False
