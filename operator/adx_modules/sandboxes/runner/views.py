"""A runner installation as the event dispatcher and the health reporter see it.

Why it exists: both are shared with the WASM host (:mod:`~adx_modules.sandboxes.events`,
:mod:`~adx_modules.sandboxes.reporting`) and ask each host for the same few things; these are
the runner's answers, read from its :class:`~adx_modules.sandboxes.runner.state.Running`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

from adx_modules.api import reasons as r
from adx_modules.sandboxes.runner.children import ModuleCallError
from adx_modules.sandboxes.runner.state import FAILING_WINDOW, Running
from adx_modules.sandboxes.wasm.capabilities import Capabilities
from adx_modules.sandboxes.wasm.health import Judgement
from adx_modules.sandboxes.wasm.records import Event

LOG = logging.getLogger("adx_modules.runner")


class RunnerSubscriber:
    """A runner installation as the event dispatcher sees it."""

    def __init__(self, seconds: float, running: Running) -> None:
        self._seconds = seconds
        self._running = running
        registration = running.registration
        self.key, self.namespace, self.name = (
            registration.key,
            registration.namespace,
            registration.name,
        )
        self.capabilities = Capabilities(registration.permissions)

    async def deliver(self, event: Event) -> bool | None:
        running = self._running
        if not running.registration.active or running.process is None:
            return None
        try:
            await running.process.call(
                "event",
                {"event": dataclasses.asdict(event)},
                self._seconds,
                what=f"event {event.id}",
            )
        except ModuleCallError as error:
            running.event_error = f"event {event.id} ({event.topic}): {error.message}"
            return False
        return True

    def gave_up(self, message: str) -> None:
        self._running.event_error = f"{message}: {self._running.event_error}"
        LOG.warning("%s: %s", self.key, self._running.event_error)


def process_usage(pid: int) -> dict[str, Any]:
    """``cpu_seconds`` (user + system) and ``memory_bytes`` (resident) of one process, read
    from /proc; empty when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "cpu_seconds": round((int(fields[11]) + int(fields[12])) / ticks, 3),
        "memory_bytes": resident * os.sysconf("SC_PAGE_SIZE"),
    }


class RunnerReported:
    """A runner installation as the health reporter sees it: failing while its process keeps
    ending, serving again a minute after it last ended."""

    def __init__(self, running: Running) -> None:
        registration = running.registration
        self._running = running
        self.key, self.namespace, self.name = (
            registration.key,
            registration.namespace,
            registration.name,
        )
        self.uid = registration.uid
        self.isolation = registration.isolation

    def usage(self) -> dict[str, Any]:
        """The module process's CPU time and resident memory (from /proc), and its restarts."""
        running, process = self._running, self._running.process
        used: dict[str, Any] = {"restarts": running.restarts, "serving": False}
        if process is not None and process.running:
            used.update(serving=True, pid=process.pid, **process_usage(process.pid))
        return used

    def judged(self) -> Judgement | None:
        running = self._running
        now = time.monotonic()
        recent = [t for t in running.exits if now - t < FAILING_WINDOW]
        if recent:
            return (
                "False",
                r.MODULE_FAILING,
                f"its process ended {len(recent)} time(s) in the last {FAILING_WINDOW:.0f}s and "
                f"was started again; the last: {running.last_exit}",
            )
        process = running.process
        if process is None or not process.running:
            return None  # between an end and its restart: the next round says
        return ("True", r.MODULE_SERVING, f"its process (pid {process.pid}) serves")
