"""Leader election's requests against the real apiserver: two electors in one process, each
with a client of its own, on short timings (lease 3 s, renew deadline 2 s, retry 0.5 s)."""

from __future__ import annotations

import asyncio
import time

from adx_modules.clients.kube import KubeClient
from adx_modules.service.leadership import LeaderElector, LeaseRef, Timing
from support.kube import Kubectl
from support.stack import StackInfo

TIMING = Timing(lease_duration=3, renew_deadline=2, retry_period=0.5)


async def test_one_holds_the_other_waits_takes_over_a_release_and_a_usurped_leader_steps_down(
    stack: StackInfo, kubectl: Kubectl, namespace: str
) -> None:
    lease = LeaseRef(namespace, "adx-module-operator")
    async with (
        await KubeClient.connect(str(stack.kubeconfig)) as one,
        await KubeClient.connect(str(stack.kubeconfig)) as two,
    ):
        first, second = (
            LeaderElector(one, lease, "a", TIMING),
            LeaderElector(two, lease, "b", TIMING),
        )
        never = asyncio.Event()
        assert await first.acquire(never)
        holding = asyncio.create_task(first.hold())
        # b waits while a renews, well past a lease duration
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(2 * TIMING.lease_duration, stop.set)
        assert not await second.acquire(stop)
        assert second.holder == "a"
        assert second.state == "standby"
        # a releases: b takes the Lease at its next attempt, not a lease duration later
        holding.cancel()
        await first.release()
        released_at = time.monotonic()
        assert await second.acquire(never)
        assert time.monotonic() - released_at < TIMING.retry_period * 1.2 + 0.5
        spec = kubectl.json("get", "lease", lease.name)["spec"]
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
        # someone else writes itself in as the holder: b notices at its next renewal and
        # steps down at once, without waiting for its renew deadline
        holding = asyncio.create_task(second.hold())
        kubectl(
            "patch", "lease", lease.name, "--type=merge",
            "-p", '{"spec": {"holderIdentity": "intruder"}}',
        )  # fmt: skip
        usurped_at = time.monotonic()
        await asyncio.wait_for(holding, TIMING.renew_deadline)
        assert second.state == "lost"
        assert time.monotonic() - usurped_at < TIMING.retry_period + 0.5
