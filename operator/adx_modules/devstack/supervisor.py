"""Running the local stack for people and scripts: in the foreground, detached, and stopped again.

Why it exists: ``make run`` keeps the stack (plus the operator and worker) in the foreground
until Ctrl-C; ``make stack-up`` leaves it running in the background for scripts and returns once
it is ready; ``make stack-down`` stops it and leaves no process behind. One supervisor process
owns every child, so stopping it (or killing it) takes the whole stack down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.stack import DevStack


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "supervisor.pid"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by its parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def running_pid(state_dir: Path) -> int | None:
    """The pid of a supervisor that runs the stack in ``state_dir``, if any."""
    try:
        pid = int(_pid_file(state_dir).read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


class _StopRequestedError(Exception):
    """Raised from a signal handler to unwind the foreground loop."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def run_foreground(
    state_dir: Path,
    *,
    fresh: bool = False,
    on_ready: Callable[[DevStack], Sequence[subprocess.Popen[bytes]]] | None = None,
) -> int:
    """Start the stack, call ``on_ready`` (which may start more children), wait for a signal."""
    if (pid := running_pid(state_dir)) is not None:
        raise DevStackError(
            f"a local stack already runs from {state_dir} (pid {pid}); "
            "stop it with 'make stack-down' first"
        )
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    stack = DevStack(state_dir, fresh=fresh)
    _pid_file(state_dir).write_text(str(os.getpid()))
    children: Sequence[subprocess.Popen[bytes]] = ()
    try:
        stack.start()
        children = on_ready(stack) if on_ready else ()
        while True:
            for child in children:
                if child.poll() is not None:
                    print(f"devstack: {child.args!r} exited with {child.returncode}; stopping")
                    return 1
            time.sleep(0.5)
    except _StopRequestedError:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        _pid_file(state_dir).unlink(missing_ok=True)


def start_detached(state_dir: Path, *, fresh: bool = False, timeout: float = 1800.0) -> Path:
    """Start a supervisor in its own session; return the env file once the stack is ready."""
    if running_pid(state_dir) is not None:
        if (state_dir / "env").exists():
            return state_dir / "env"
        raise DevStackError(f"a local stack is starting or stopping in {state_dir}")
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "env").unlink(missing_ok=True)
    log = state_dir / "supervisor.log"
    argv = [sys.executable, "-m", "adx_modules.devstack", "up", "--state-dir", str(state_dir)]
    if fresh:
        argv.append("--fresh")
    with log.open("wb") as output:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (state_dir / "env").exists():
            return state_dir / "env"
        if child.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise DevStackError(f"the local stack did not start; last lines of {log}:\n{tail}")
        time.sleep(0.5)
    child.terminate()
    raise DevStackError(f"the local stack was not ready within {timeout:.0f}s; see {log}")


def stop_detached(state_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the supervisor of ``state_dir`` and wait until it is gone; False if none ran."""
    pid = running_pid(state_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        # its children die with it (PR_SET_PDEATHSIG)
        os.kill(pid, signal.SIGKILL)
    _pid_file(state_dir).unlink(missing_ok=True)
    return True
