"""The cgroups of a module process, where the runner may make them: a pids cgroup (the fork
bomb's wall) and a cpu cgroup (its share of the CPU).

Why it exists: ``RLIMIT_NPROC`` counts every process of a user and does not bind root at all, so
on a machine where the runner runs as root (``make run``, CI) it stops nothing. A pids cgroup
bounds the process and all it forks, whoever they run as, and lets the runner kill all of them
at once. A cpu cgroup caps the CPU the process and its children use together at the module's
declared ``resources.limits.cpu`` (CFS bandwidth: ``cpu.max`` on cgroup v2,
``cpu.cfs_quota_us`` on v1), so a spinning module slows only itself until its call's deadline.
In a pod the cgroup filesystem is read-only: there the pod's own limits and ``RLIMIT_NPROC`` of
the runner's non-root user stand instead (docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


@dataclass(frozen=True)
class ModuleCgroups:
    """One module process's cgroups: the same directory on v2, one per hierarchy on v1."""

    pids: Path | None = None
    cpu: Path | None = None

    @property
    def paths(self) -> list[Path]:
        return list(dict.fromkeys(p for p in (self.pids, self.cpu) if p is not None))


def _root(controller: str) -> Path | None:
    """Where groups with ``controller`` are made: its v1 hierarchy, or the v2 root."""
    v1 = CGROUP / controller
    if (v1 / "cgroup.procs").exists() and not (v1 / "cgroup.controllers").exists():
        return v1
    controllers = CGROUP / "cgroup.controllers"
    if controllers.exists() and controller in controllers.read_text().split():
        return CGROUP
    return None


def _make(controller: str, group: str, name: str, settings: dict[str, str]) -> Path | None:
    root = _root(controller)
    if root is None:
        return None
    path = root / group / name
    try:
        path.mkdir(parents=True, exist_ok=True)
        if root == CGROUP:
            with contextlib.suppress(OSError):
                (root / "cgroup.subtree_control").write_text(f"+{controller}")
                (root / group / "cgroup.subtree_control").write_text(f"+{controller}")
        for file, value in settings.items():
            (path / file).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


def create(group: str, name: str, max_pids: int, cpu_millis: int | None) -> ModuleCgroups:
    """Fresh cgroups ``group/name``: ``pids.max``, and the CPU bandwidth of ``cpu_millis``
    millicores when given; a part the runner may not make is None."""
    pids = _make("pids", group, name, {"pids.max": str(max_pids)})
    cpu = None
    if cpu_millis:
        quota = max(1000, cpu_millis * PERIOD_US // 1000)
        v2 = {"cpu.max": f"{quota} {PERIOD_US}"}
        v1 = {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": str(quota)}
        cpu = _make("cpu", group, name, v2 if _root("cpu") == CGROUP else v1)
    return ModuleCgroups(pids, cpu)


def kill_all(groups: ModuleCgroups) -> None:
    """SIGKILL every process in the cgroups (a forked child that left the session too)."""
    for path in groups.paths:
        with contextlib.suppress(OSError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def remove(groups: ModuleCgroups, attempts: int = 1) -> None:
    """Remove the (emptied) cgroups; a killed process leaves its cgroup a moment later, so
    ``attempts`` tries 20 ms apart."""
    for path in groups.paths:
        for attempt in range(attempts):
            with contextlib.suppress(OSError):
                path.rmdir()
            if not path.exists():
                break
            if attempt + 1 < attempts:
                time.sleep(0.02)


def sweep(group: str) -> int:
    """Kill what a runner of the same ``group`` left behind (it was killed itself), and remove
    its cgroups; how many module processes' groups were swept."""
    swept: set[str] = set()
    for controller in ("pids", "cpu"):
        root = _root(controller)
        if root is None or not (root / group).is_dir():
            continue
        left = [path for path in (root / group).iterdir() if path.is_dir()]
        for path in left:
            kill_all(ModuleCgroups(pids=path))
        for path in left:
            remove(ModuleCgroups(pids=path), attempts=50)
            swept.add(path.name)
    return len(swept)
