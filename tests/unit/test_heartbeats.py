"""A long step heartbeats while it works, so a dead worker's activity is retried soon."""

from __future__ import annotations

import asyncio

from temporalio.testing import ActivityEnvironment

from adx_modules.core.heartbeats import heartbeating


async def test_a_step_heartbeats_until_it_ends() -> None:
    beats: list[tuple[object, ...]] = []
    environment = ActivityEnvironment()
    environment.on_heartbeat = lambda *details: beats.append(details)

    async def scan() -> str:
        async with heartbeating("scanning Module m", every=0.01):
            await asyncio.sleep(0.1)
        ended = len(beats)
        await asyncio.sleep(0.05)
        assert len(beats) == ended  # none after the block
        return "done"

    assert await environment.run(scan) == "done"
    assert len(beats) >= 3
    assert set(beats) == {("scanning Module m",)}


async def test_outside_an_activity_it_only_runs_the_block() -> None:
    async with heartbeating("benchmark", every=0.01):
        await asyncio.sleep(0.02)
