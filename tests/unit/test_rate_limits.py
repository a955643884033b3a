"""Token buckets per caller: a burst, then the sustained rate; callers do not share a bucket."""

from __future__ import annotations

from adx_modules.web.limits import RateLimitedError, TokenBuckets


def test_a_burst_then_the_rate_and_each_caller_alone() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=4.0, clock=lambda: now[0])
    assert [buckets.take("alice") for _ in range(4)] == [0.0] * 4
    assert buckets.take("alice") == 0.5  # a token comes every half second
    assert buckets.take("bob") == 0.0  # another caller's bucket is full
    now[0] += 0.5
    assert buckets.take("alice") == 0.0
    assert buckets.take("alice") > 0
    now[0] += 100  # refilled to the burst, no more
    assert [buckets.take("alice") for _ in range(5)][-1] > 0


def test_the_wait_is_whole_seconds_at_least_one() -> None:
    assert RateLimitedError("alice", 0.2).retry_after == 1
    assert RateLimitedError("alice", 2.1).retry_after == 3
