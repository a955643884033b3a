"""The paced scheduler and watch stream, on Kopf's real classes: for a listed object the operator
has handled, the watcher waits while the queue of pending workers is full, never longer than a
stall; watch events and objects never handled are never held back; only Kopf's watchers are
changed."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Coroutine
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aiotasks
from kopf._cogs.clients import watching
from kopf._cogs.structs import references
from kopf._core.engines import posting
from kopf._core.reactor import queueing

from adx_modules.service import kopf_pacing
from adx_modules.service.kopf_pacing import BACKLOG, PACED, PacedScheduler

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


async def test_a_handled_object_waits_while_the_queue_is_full_until_a_worker_finishes(
    scheduler: PacedScheduler,
) -> None:
    PACED.set(True)
    workers = Workers()
    await _fill(scheduler, workers)
    one_more = asyncio.create_task(scheduler.spawn(workers.worker()))
    await asyncio.sleep(kopf_pacing.STALL / 4)
    assert not one_more.done(), "spawn returned with the queue full"
    workers.finish[0].set()
    await asyncio.wait_for(one_more, kopf_pacing.STALL / 2)
    assert not scheduler.stalled


async def test_what_may_not_wait_is_never_held_back(scheduler: PacedScheduler) -> None:
    """A worker may wait for its own patch to come back through the watch."""
    PACED.set(False)
    workers = Workers()
    await _fill(scheduler, workers)
    for _ in range(10):
        await asyncio.wait_for(scheduler.spawn(workers.worker()), 0.1)


async def test_a_stalled_list_goes_on_unpaced_until_a_worker_finishes(
    scheduler: PacedScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sight's workers wait for their patches to come back through a watch that has not
    started: the LIST must not wait on them."""
    PACED.set(True)
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
    PACED.set(True)
    unlimited = PacedScheduler()
    workers = Workers()
    try:
        for _ in range(100):
            await asyncio.wait_for(unlimited.spawn(workers.worker()), 0.1)
    finally:
        for done in workers.finish:
            done.set()
        await unlimited.close()


async def test_a_watcher_stopped_while_waiting_leaves_no_worker_unawaited(
    scheduler: PacedScheduler,
) -> None:
    PACED.set(True)
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


def _listed(i: int, *, handled: bool = True) -> dict[str, Any]:
    metadata = {"uid": f"uid-{i}", "resourceVersion": "1", "generation": 2}
    status = {"observedGeneration": 2 if handled else 1}
    return {"type": None, "object": {"metadata": metadata, "status": status}}


@pytest.mark.parametrize(
    ("event", "waits"),
    [
        (_listed(1), True),
        (_listed(1, handled=False), False),
        ({"type": None, "object": {"metadata": {"generation": 2}}}, False),
        (
            {
                "type": None,
                "object": {
                    "metadata": {"generation": 2},
                    "status": {
                        "observedGeneration": 2,
                        "kopf": {"progress": {"h": {"retries": 1}}},
                    },
                },
            },
            False,
        ),
        ({**_listed(1), "type": "MODIFIED"}, False),
        ({**_listed(1), "type": "ADDED"}, False),
        (watching.Bookmark.LISTED, False),
        ({"type": None, "object": "not an object"}, False),
    ],
)
def test_only_listed_objects_the_operator_handled_may_wait(event: Any, waits: bool) -> None:
    assert kopf_pacing.may_wait(event) is waits


class FakeWatch:
    """What Kopf's watch stream yields on a start: listed objects, the end of the LIST, then
    watch events; it counts what it handed out."""

    def __init__(self, listed: int, *, handled: bool = True) -> None:
        self.events: list[Any] = [_listed(i, handled=handled) for i in range(listed)]
        self.events += [watching.Bookmark.LISTED, {**_listed(0), "type": "MODIFIED"}]
        self.yielded = 0

    async def infinite_watch(self, **_: Any) -> AsyncIterator[Any]:
        for event in self.events:
            self.yielded += 1
            yield event
        await asyncio.Event().wait()  # a watch stays open


async def test_the_stream_tells_its_task_whether_each_object_may_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeWatch(listed=2)
    monkeypatch.setattr(
        kopf_pacing, "watching", SimpleNamespace(infinite_watch=fake.infinite_watch)
    )
    seen = []
    stream = kopf_pacing.paced_watch()
    for _ in range(4):
        await anext(stream)
        seen.append(PACED.get())
    await stream.aclose()
    assert seen == [True, True, False, False]


async def _watch(
    fake: FakeWatch, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Task[None], asyncio.Event, list[str]]:
    """Kopf's real watcher on ``fake``, with 2 workers that finish when told."""
    kopf_pacing.install()
    monkeypatch.setattr(
        kopf_pacing, "watching", SimpleNamespace(infinite_watch=fake.infinite_watch)
    )
    release = asyncio.Event()
    processed: list[str] = []

    async def processor(*, raw_event: Any, **_: Any) -> None:
        await release.wait()
        processed.append(raw_event["object"]["metadata"]["uid"])

    settings = kopf.OperatorSettings()
    settings.queueing.worker_limit = LIMIT
    settings.queueing.idle_timeout = 0.01
    watcher = asyncio.create_task(
        queueing.watcher(
            namespace=None,
            settings=settings,
            resource=references.Resource("example.com", "v1", "things"),
            processor=processor,
        )
    )
    return watcher, release, processed


async def _stop(watcher: asyncio.Task[None]) -> None:
    watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher


async def test_kopfs_own_watcher_reads_a_cold_starts_list_as_its_workers_take_it_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 2 workers that do not finish, Kopf's watcher takes in the 2 running and 8 queued
    handled objects and one more, then waits; once the workers finish it reads the rest."""
    fake = FakeWatch(listed=40)
    watcher, release, processed = await _watch(fake, monkeypatch)
    try:
        await asyncio.sleep(0.3)
        assert fake.yielded == LIMIT + LIMIT * BACKLOG + 1, "the LIST was not paced"
        release.set()
        for _ in range(100):
            if fake.yielded == len(fake.events):
                break
            await asyncio.sleep(0.05)
        assert fake.yielded == len(fake.events)
        for _ in range(100):
            if len(set(processed)) == 40:
                break
            await asyncio.sleep(0.05)
        assert set(processed) == {f"uid-{i}" for i in range(40)}
    finally:
        await _stop(watcher)


async def test_kopfs_own_watcher_reads_a_first_sights_list_unpaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Objects never handled: their workers write, and may wait for the watch."""
    fake = FakeWatch(listed=40, handled=False)
    watcher, release, _ = await _watch(fake, monkeypatch)
    try:
        await asyncio.sleep(0.3)
        assert fake.yielded == len(fake.events)
    finally:
        release.set()
        await _stop(watcher)


def test_only_kopfs_watchers_are_changed() -> None:
    kopf_pacing.install()
    kopf_pacing.install()  # idempotent
    changed = vars(queueing)
    assert changed["aiotasks"].Scheduler is PacedScheduler
    assert changed["aiotasks"].Future is aiotasks.Future  # the rest of the module as it was
    assert changed["watching"].infinite_watch is kopf_pacing.paced_watch
    assert changed["watching"].Bookmark is watching.Bookmark
    assert vars(posting)["aiotasks"].Scheduler is aiotasks.Scheduler
    assert aiotasks.Scheduler is not PacedScheduler
    assert watching.infinite_watch is not kopf_pacing.paced_watch
