"""A cold start holds a few hundred listed objects at a time, not every one.

Why it exists: Kopf's watcher hands each object it lists to its scheduler, which runs
``queueing.worker_limit`` workers and queues the rest without bound, each queued worker holding
its object's body. A start on 5,000 Modules and 5,000 installations listed them all within
seconds and held every body until its handlers had run; the long-lived state made meanwhile
was allocated among those bodies, and Python's allocator gives an arena back only when nothing
in it is alive, so that peak stayed the operator's size for good (docs/scale.md#memory).

How: when the watcher reads, in a kind's LIST, an object the operator has handled (its status
says so: ``service/diffbase.handled``), it waits before queueing that object's worker as long
as BACKLOG workers per running slot are already queued, until a worker finishes; a cold start's
LIST is then read a page at a time as the workers take it in. Such a worker only checks: it
writes nothing, so nothing of it waits for the watch.

Everything else goes on unpaced, as Kopf does it: watch events, and objects never handled (a
first sight). Their workers write, and writes wait for the watch: a worker that patched its
object waits (Kopf's ``persistence.consistency_timeout``, 5 s) for the patch to come back
through it, and an installation waits for its Module's change to come through the Module watch.
Kopf starts a kind's watch only once its LIST is read, so holding their LIST back would hold
them too (pacing every listed object slowed a first sight on 1,000 of each from 23 to 37 s).
And nothing waits while no worker finishes for STALL seconds, whatever the reason.

Kopf has no setting for this. Its queueing module (only: Kopf's Event posters and daemons keep
their own scheduler) is given the paced scheduler and a watch stream that says which objects
may wait (``install``). They rely on three of the scheduler's internals (its limit, its
queue of pending workers, its condition), which ``tests/unit/test_kopf_pacing.py`` exercises on
Kopf's real classes, its own watcher among them: an upgrade that moves them fails those tests,
not the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Coroutine
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any

from kopf._cogs.aiokits import aiotasks
from kopf._cogs.clients import watching
from kopf._core.reactor import queueing

from adx_modules.service.diffbase import handled

BACKLOG = 4  # queued workers per running slot: 128 bodies per kind at worker_limit 32
STALL = 1.0  # seconds without a finished worker after which nothing waits

# whether the object of the event the watcher's stream just yielded may wait for room (the
# stream sets it in the context of the watcher's task, which spawns that object's worker)
PACED: ContextVar[bool] = ContextVar("kopf_paced", default=False)


def may_wait(event: Any) -> bool:
    """A listed object (type None) that the operator has handled."""
    if not isinstance(event, dict) or event.get("type") is not None:
        return False
    body = event.get("object")
    return isinstance(body, dict) and handled(body)


async def paced_watch(**kwargs: Any) -> AsyncGenerator[Any, None]:
    """Kopf's watch stream, telling its watcher's task whether the object of each event may
    wait (an async generator runs in the context of the task that iterates it)."""
    async for event in watching.infinite_watch(**kwargs):
        PACED.set(may_wait(event))
        yield event


class PacedScheduler(aiotasks.Scheduler):
    """Kopf's scheduler, whose ``spawn`` waits, for an object that may, while the queue of
    pending workers is full."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = False  # no worker finished within STALL: do not wait until one does

    def _task_done_callback(self, task: asyncio.Task[Any]) -> None:
        self.stalled = False
        super()._task_done_callback(task)

    async def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        if self._limit is not None and not self.stalled and PACED.get():
            try:
                await self._room(self._limit * BACKLOG)
            except asyncio.CancelledError:  # the watcher is stopping: the worker never runs
                await aiotasks.cancel_coro(coro=coro, name=name)
                raise
        await super().spawn(coro, name=name)

    async def _room(self, queued: int) -> None:
        """Until fewer than ``queued`` workers are queued, or STALL passes without one
        finishing."""
        async with self._condition:
            while self._pending_coros.qsize() >= queued:
                try:  # woken when a worker finishes (and when one is queued)
                    await asyncio.wait_for(self._condition.wait(), STALL)
                except TimeoutError:
                    self.stalled = True
                    return


def install() -> None:
    """Kopf's watchers queue their workers on the paced scheduler and read their stream through
    ``paced_watch``; the rest of Kopf is as it was. Idempotent."""
    names = vars(queueing)  # the module's globals: its functions look these up there
    if getattr(names["aiotasks"], "Scheduler", None) is PacedScheduler:
        return
    names["aiotasks"] = SimpleNamespace(**{**vars(aiotasks), "Scheduler": PacedScheduler})
    names["watching"] = SimpleNamespace(**{**vars(watching), "infinite_watch": paced_watch})
