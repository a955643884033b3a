"""Crash points for the fault-injection tests: the worker dies, as by ``kill -9``, where told.

Why it exists: every activity runs at least once, so each must be idempotent; the convincing
proof is to kill the worker just before and just after each side effect and watch the retry on
a fresh worker leave nothing lost or doubled. ``ADX_FAILPOINTS`` (comma-separated names) arms
points; unset, as in production, nothing is armed and the worker does not even install the
interceptor. Names:

- ``<activity>:before`` / ``<activity>:after`` — around every activity (``Failpoints``): before
  it does anything, and after its side effects are done but before Temporal hears of it;
- ``<activity>:<moment>`` — between two side effects of one activity (``reach`` in its code),
  e.g. ``report:recorded`` (PostgreSQL written, the status not yet).

``<name>@<prefix>`` arms a point only for workflows whose id starts with ``<prefix>`` (a test
crashes its own installation's workflow, not another one that happens to pass by).

A point fires the first time it is reached: the process logs ``failpoint <name> reached`` and
sends itself SIGKILL, so no ``finally`` block, no shutdown hook and no buffered write runs —
exactly what a node failure or an OOM kill does.

``<name>~<seconds>`` arms a *pause* instead (``pause`` in the code, for the operator's handlers:
``<prefix>`` then matches the object's ``namespace/name``): the first handler to reach it waits
there, so a test lands another event in exactly that window — a race made deterministic. Names:

- ``dependencies:deferred`` — an installation found it must wait for its dependencies, its
  status not yet written (``installations/handlers.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

LOG = logging.getLogger("adx_modules.failpoints")
ENVIRONMENT = "ADX_FAILPOINTS"


def armed() -> dict[str, str]:
    """The crash points armed for this process, each with the workflow id prefix it is armed
    for."""
    return {point: prefix for point, (pause, prefix) in _entries().items() if pause is None}


def pauses() -> dict[str, tuple[float, str]]:
    """The pauses armed for this process: point -> (seconds, subject prefix)."""
    return {point: (pause, prefix) for point, (pause, prefix) in _entries().items() if pause}


def _entries() -> dict[str, tuple[float | None, str]]:
    entries: dict[str, tuple[float | None, str]] = {}
    for entry in os.environ.get(ENVIRONMENT, "").split(","):
        armed_point, _, prefix = entry.strip().partition("@")
        point, _, seconds = armed_point.partition("~")
        if point:
            entries[point] = (float(seconds) if seconds else None, prefix)
    return entries


_ARMED = armed()
_PAUSES = pauses()


async def pause(point: str, subject: str) -> None:
    """Wait here, the first time ``point~<seconds>`` is reached for ``subject`` (an object's
    ``namespace/name``); nothing when it is not armed (production)."""
    armed_pause = _PAUSES.get(point)
    if armed_pause is None or not subject.startswith(armed_pause[1]):
        return
    del _PAUSES[point]
    LOG.warning("failpoint %s reached for %s: pausing %s s", point, subject, armed_pause[0])
    await asyncio.sleep(armed_pause[0])


def reach(point: str) -> None:
    """Die here when ``point`` is armed (for the workflow of the activity running now)."""
    prefix = _ARMED.get(point)
    if prefix is None:
        return
    workflow_id = (activity.info().workflow_id or "") if activity.in_activity() else ""
    if workflow_id.startswith(prefix):
        LOG.error("failpoint %s reached in %s: killing the process", point, workflow_id)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class _Crashing(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        reach(f"{name}:before")
        result = await super().execute_activity(input)
        reach(f"{name}:after")
        return result


class Failpoints(Interceptor):
    """A worker interceptor that passes every activity through ``<activity>:before|after``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Crashing(next)
