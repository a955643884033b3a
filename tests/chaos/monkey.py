"""The chaos: ``kill -9`` and restart of each part of the service and of its stack, on a schedule.

Why it exists: the service claims that killing any of its processes at any moment loses,
duplicates and orphans nothing. The monkey kills, on fixed periods, the acting operator replica,
a worker, the WASM host, the module runner, Temporal, PostgreSQL and the kube-apiserver, each
with SIGKILL to its whole process group, and starts it again as a kubelet or systemd would. Like a
kubelet it also restarts a service process that ended by itself (counted apart: a process that
gives up when a dependency is away is a finding, not a kill).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from support.operator import ServiceProcess


@dataclass
class Target:
    """Something the monkey kills every ``every`` seconds, the first time at ``first``."""

    name: str
    every: float
    first: float
    kill: Callable[[], None]
    restart: Callable[[], None]
    kills: list[float] = field(default_factory=list)
    """When each kill landed, in seconds since the chaos began."""
    down: list[float] = field(default_factory=list)
    """How long each restart took."""


def service_target(
    name: str, every: float, first: float, choose: Callable[[], ServiceProcess]
) -> Target:
    """A service process: ``choose`` picks which replica dies this time (the leader, say)."""
    chosen: list[ServiceProcess] = []

    def kill() -> None:
        victim = choose()
        chosen[:] = [victim]
        victim.kill()

    def restart() -> None:
        chosen[0].kill()  # a start that failed before may have left one behind
        chosen[0].start(timeout=120)

    return Target(name, every, first, kill, restart)


class Monkey(threading.Thread):
    """Kills the targets on schedule until ``calm()``; supervises the service processes (starts
    again any that ended by itself) until ``stop()``."""

    def __init__(self, targets: list[Target], supervised: list[ServiceProcess]) -> None:
        super().__init__(daemon=True)
        self.targets = targets
        self.supervised = supervised
        self.self_exits: dict[str, int] = {}
        self.errors: list[str] = []
        self.began = time.monotonic()
        self.calmed_at: float | None = None
        self._calm = threading.Event()
        self._stopping = threading.Event()

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def calm(self) -> None:
        """No more kills (supervision goes on)."""
        self.calmed_at = self.elapsed()
        self._calm.set()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=300)

    def run(self) -> None:
        while not self._stopping.is_set():
            if not self._calm.is_set():
                for target in self.targets:
                    due = target.first + len(target.kills) * target.every
                    if self.elapsed() >= due:
                        self._strike(target)
            self._supervise()
            time.sleep(0.5)

    def _strike(self, target: Target) -> None:
        target.kills.append(round(self.elapsed(), 1))
        target.kill()
        began = time.monotonic()
        for _ in range(5):
            try:
                target.restart()
                break
            except Exception as error:  # a dependency is away too: try again, say so
                self.errors.append(f"{target.name} restart: {str(error)[:300]}")
                time.sleep(2)
        target.down.append(round(time.monotonic() - began, 1))

    def _supervise(self) -> None:
        for process in self.supervised:
            if not process.alive:
                self.self_exits[process.role] = self.self_exits.get(process.role, 0) + 1
                try:
                    process.start(timeout=120)
                except Exception as error:
                    self.errors.append(f"{process.role} restart: {str(error)[:300]}")
