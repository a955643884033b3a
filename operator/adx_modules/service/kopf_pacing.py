"""A start holds a few hundred listed objects at a time, not every one.

Why it exists: Kopf's watcher hands each object it lists to its scheduler, which runs
``queueing.worker_limit`` workers and queues the rest without bound, each queued worker holding
its object's body. A start on 5,000 Modules and 5,000 installations listed them all within
seconds and held every body until its handlers had run; the long-lived state made meanwhile
was allocated among those bodies, and Python's allocator gives an arena back only when nothing
in it is alive, so that peak stayed the operator's size for good (docs/scale.md#memory).

How: the watcher waits, before queueing one more worker, while BACKLOG workers per running slot
are already queued, until a worker finishes; the LIST is then read a page at a time as the
workers take it in. It never holds the watcher back while no worker finishes for STALL seconds:
on a first sight, a worker that patched its object (an installation's finalizer) waits up to
``persistence.consistency_timeout`` for that patch to come back through the watch, which only
starts once the LIST is read; waiting on those would stall the start, so the watcher then goes
on unpaced, as Kopf's own does, until a worker finishes again.

Kopf has no setting for this. The scheduler is put into Kopf's queueing module only
(``install``: Kopf's Event posters and daemons keep their own), and it relies on three of the
scheduler's internals (its limit, its queue of pending workers, its condition), which
``tests/unit/test_kopf_pacing.py`` exercises on Kopf's real class: an upgrade that moves them
fails those tests, not the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import SimpleNamespace
from typing import Any

from kopf._cogs.aiokits import aiotasks
from kopf._core.reactor import queueing

BACKLOG = 4  # queued workers per running slot: 128 bodies per kind at worker_limit 32
STALL = 1.0  # seconds without a finished worker after which the watcher goes on unpaced


class PacedScheduler(aiotasks.Scheduler):
    """Kopf's scheduler, whose ``spawn`` waits while the queue of pending workers is full."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled = False  # no worker finished within STALL: do not wait until one does

    def _task_done_callback(self, task: asyncio.Task[Any]) -> None:
        self.stalled = False
        super()._task_done_callback(task)

    async def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        if self._limit is not None and not self.stalled:
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
    """Kopf's watchers queue their workers on the paced scheduler (the rest of Kopf is as it
    was). Idempotent."""
    names = vars(queueing)  # the module's globals: its functions look ``aiotasks`` up there
    if getattr(names["aiotasks"], "Scheduler", None) is PacedScheduler:
        return
    names["aiotasks"] = SimpleNamespace(**{**vars(aiotasks), "Scheduler": PacedScheduler})
