"""A pids cgroup per module process, where the runner may make one: the fork bomb's wall.

Why it exists: ``RLIMIT_NPROC`` counts every process of a user and does not bind root at all, so
on a machine where the runner runs as root (``make run``, CI) it stops nothing. A pids cgroup
bounds the process and all it forks, whoever they run as, and lets the runner kill all of them
at once. In a pod the cgroup filesystem is read-only: there the pod's own pids limit and
``RLIMIT_NPROC`` of the runner's non-root user stand instead (docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


def _root() -> Path | None:
    for root in ROOTS:
        controllers = root / "cgroup.controllers"
        if root.name == "pids" and (root / "cgroup.procs").exists():
            return root  # cgroup v1's pids hierarchy
        if controllers.exists() and "pids" in controllers.read_text().split():
            return root  # cgroup v2: its root, if this process may write there
    return None


def create(group: str, name: str, max_pids: int) -> Path | None:
    """A fresh cgroup ``group/name`` with ``pids.max``; None where none can be made."""
    root = _root()
    if root is None:
        return None
    path = root / group / name
    try:
        path.mkdir(parents=True, exist_ok=True)
        if root.name != "pids":
            with contextlib.suppress(OSError):
                (root / "cgroup.subtree_control").write_text("+pids")
                (root / group / "cgroup.subtree_control").write_text("+pids")
        (path / "pids.max").write_text(str(max_pids))
    except OSError:
        remove(path)
        return None
    return path


def kill_all(path: Path) -> None:
    """SIGKILL every process in the cgroup (a forked child that left the session too)."""
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def sweep(group: str) -> int:
    """Kill what a runner of the same ``group`` left behind (it was killed itself), and remove
    its cgroups; how many were swept."""
    root = _root()
    if root is None or not (root / group).is_dir():
        return 0
    swept = 0
    for path in (root / group).iterdir():
        if path.is_dir():
            kill_all(path)
            swept += 1
    for path in (root / group).iterdir():
        if path.is_dir():
            for _ in range(50):
                with contextlib.suppress(OSError):
                    path.rmdir()
                if not path.exists():
                    break
                time.sleep(0.02)
    return swept
