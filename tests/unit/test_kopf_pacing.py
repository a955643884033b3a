"""The paced scheduler, on Kopf's real scheduler class: the watcher waits while the queue of
pending workers is full, never longer than a stall, and only Kopf's watchers use it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from kopf._cogs.aiokits import aiotasks
from kopf._core.engines import posting
from kopf._core.reactor import queueing

from adx_modules.service import kopf_pacing
from adx_modules.service.kopf_pacing import BACKLOG, PacedScheduler

LIMIT = 2


class Workers:
    """Workers that run until each is told to finish."""

    def __init__(self) -> None:
        self.finish: list[asyncio.Event] = []

    def worker(self) -> Coroutine[Any, Any, None]:
        done = asyncio.Event()
        self.finish.append(done)

        async def work() -> None:
            await done.wait()

        return work()


@pytest.fixture
async def scheduler() -> AsyncIterator[PacedScheduler]:
    paced = PacedScheduler(limit=LIMIT)
    yield paced
    await paced.close()


async def _fill(scheduler: PacedScheduler, workers: Workers) -> None:
    """LIMIT workers running and LIMIT * BACKLOG queued: every spawn so far returned."""
    for _ in range(LIMIT + LIMIT * BACKLOG):
        await asyncio.wait_for(scheduler.spawn(workers.worker()), 0.5)
    await asyncio.sleep(0.05)
    assert scheduler._pending_coros.qsize() == LIMIT * BACKLOG


async def test_the_watcher_waits_while_the_queue_is_full_until_a_worker_finishes(
    scheduler: PacedScheduler,
) -> None:
    workers = Workers()
    await _fill(scheduler, workers)
    one_more = asyncio.create_task(scheduler.spawn(workers.worker()))
    await asyncio.sleep(kopf_pacing.STALL / 4)
    assert not one_more.done(), "spawn returned with the queue full"
    workers.finish[0].set()
    await asyncio.wait_for(one_more, kopf_pacing.STALL / 2)
    assert not scheduler.stalled


async def test_a_stalled_start_goes_on_unpaced_until_a_worker_finishes(
    scheduler: PacedScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sight's workers wait for their patches to come back through a watch that has not
    started: the watcher must not wait on them."""
    monkeypatch.setattr(kopf_pacing, "STALL", 0.2)
    workers = Workers()
    await _fill(scheduler, workers)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(scheduler.spawn(workers.worker()), 1.0)
    assert loop.time() - started >= 0.2
    assert scheduler.stalled
    started = loop.time()
    for _ in range(10):  # stalled: no wait at all
        await scheduler.spawn(workers.worker())
    assert loop.time() - started < 0.1
    workers.finish[0].set()  # a worker finished: pacing again
    await asyncio.sleep(0.05)
    assert not scheduler.stalled
    again = asyncio.create_task(scheduler.spawn(workers.worker()))
    await asyncio.sleep(0.1)
    assert not again.done(), "pacing did not resume after a worker finished"
    workers.finish[1].set()
    await asyncio.wait_for(again, 1.0)


async def test_a_scheduler_without_a_limit_never_waits() -> None:
    unlimited = PacedScheduler()
    workers = Workers()
    try:
        for _ in range(100):
            await asyncio.wait_for(unlimited.spawn(workers.worker()), 0.1)
    finally:
        for done in workers.finish:
            done.set()
        await unlimited.close()


def test_only_kopfs_watchers_are_paced() -> None:
    kopf_pacing.install()
    kopf_pacing.install()  # idempotent
    paced = vars(queueing)["aiotasks"]
    assert paced.Scheduler is PacedScheduler
    assert paced.Future is aiotasks.Future  # the rest of the module as it was
    assert vars(posting)["aiotasks"].Scheduler is aiotasks.Scheduler
    assert aiotasks.Scheduler is not PacedScheduler


async def test_a_watcher_stopped_while_waiting_leaves_no_worker_unawaited(
    scheduler: PacedScheduler,
) -> None:
    workers = Workers()
    await _fill(scheduler, workers)
    never = workers.worker()
    waiting = asyncio.create_task(scheduler.spawn(never))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert inspect.getcoroutinestate(never) == "CORO_CLOSED"  # not left to warn "never awaited"
    assert scheduler._pending_coros.qsize() == LIMIT * BACKLOG
