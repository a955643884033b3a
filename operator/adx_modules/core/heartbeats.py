"""A long activity step that proves its worker alive while it works.

Why it exists: Temporal notices a dead worker's activity only through a timeout. With a
heartbeat timeout it notices within seconds; without one, only when the whole time limit has
passed (a scan may take up to 15 minutes, so a worker killed during a scan would leave its
Module Scanning for 15 minutes). A step that has no progress of its own to report runs inside
``heartbeating()``: a heartbeat every few seconds while it works.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

EVERY_SECONDS = 5.0


@contextlib.asynccontextmanager
async def heartbeating(what: str, every: float = EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat the running activity (details: ``what``) every ``every`` seconds until the
    block ends; outside an activity (a step called directly, as a benchmark does) it only runs
    the block."""
    if not activity.in_activity():
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat(what)
            await asyncio.sleep(every)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
