"""One child process of the local stack: started with its log file, waited for, stopped for good.

Why it exists: the stack is a handful of long-running binaries (etcd, kube-apiserver, Temporal,
PostgreSQL, ...). Each must die with the stack, never outlive it: children run in their own
process group (so a stop reaches their own children too) and are asked by the kernel to die
with their parent (``PR_SET_PDEATHSIG``), so even a ``kill -9`` of the launcher leaves nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from adx_modules.core.errors import DevStackError

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGKILL this (child) process when its parent dies (``preexec_fn``)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def as_user(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a child as ``user`` with that user's group only
    (changing just the uid would keep root's group, and with it root's group permissions)."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def _ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (and ``bind(0)``)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _listen_ports() -> list[int]:
    """Candidate ports for a server that starts later, in random order, all *outside* the
    ephemeral range: a port chosen there and released until the server binds it may meanwhile
    become the source port of any outgoing connection on the machine (a busy test run makes
    thousands), and the server then fails with "address already in use"."""
    low, high = _ephemeral_range()
    ports = [port for port in range(20000, 32768) if not low <= port <= high]
    if not ports:  # an unusual range: fall back to the kernel's choice
        return [0]
    return random.sample(ports, len(ports))


def _bindable(port: int, host: str) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return None
        bound: int = probe.getsockname()[1]
        return bound


_handed_out: set[int] = set()
"""Ports this process already chose: free now, but probably about to be bound by the server
they were chosen for (two ports picked in a row for one runner must never be the same one)."""


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on: ``preferred`` when it is free, else a random one outside
    the ephemeral range (see ``_listen_ports``) that this process has not handed out before."""
    if preferred and (port := _bindable(preferred, host)) is not None:
        _handed_out.add(port)
        return port
    for candidate in _listen_ports():
        if candidate in _handed_out:
            continue
        if (port := _bindable(candidate, host)) is not None:
            _handed_out.add(port)
            return port
    raise DevStackError("no free TCP port on the loopback interface")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class ManagedProcess:
    """A child process with a name, a log file and a readiness check."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        """Start the process; its output goes to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    **as_user(self.user),
                    start_new_session=True,
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets a prctl flag
                )
            except OSError as error:
                raise DevStackError(f"{self.name}: cannot start {self.argv[0]}: {error}") from error

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until it holds; fail with the log's tail if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                code = self._popen.returncode if self._popen else None
                raise DevStackError(
                    f"{self.name} exited (status {code}) before {what}; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise DevStackError(
            f"{self.name}: not {what} after {timeout:.0f}s; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would, and reap it (its ports are free
        when this returns)."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=30)

    def stop(self, grace: float = 10.0) -> None:
        """Signal the whole process group, then SIGKILL what is left after ``grace`` seconds."""
        if self._popen is None:
            return
        pgid = self._popen.pid
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=grace)
        # the leader may be gone while its children linger: sweep the group either way
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=grace)
