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
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

LOG = logging.getLogger("adx_modules.failpoints")
ENVIRONMENT = "ADX_FAILPOINTS"


def armed() -> dict[str, str]:
    """The points armed for this process, each with the workflow id prefix it is armed for."""
    points: dict[str, str] = {}
    for entry in os.environ.get(ENVIRONMENT, "").split(","):
        point, _, prefix = entry.strip().partition("@")
        if point:
            points[point] = prefix
    return points


_ARMED = armed()


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
