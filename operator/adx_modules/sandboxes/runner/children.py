"""One module's process: started confined, called over its socket, its output labelled, its end
explained.

Why it exists: the runner's promise for isolation ``process`` is kept here. The process is
``python -I -B -m adx_module_sdk.process`` with a stripped environment, its own session (so it
and every child it forks are killed together), its own working directory and one socket; it
confines itself (:mod:`adx_module_sdk.confinement`) before the module's code loads. Whatever it
asks of the platform comes back over the socket and is decided by the installation's host API
(:mod:`bridge`: the same checks as for WASM modules). A call past its deadline kills the
process: a spinning handler cannot be interrupted any other way, and the runner starts it
again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adx_module_sdk
from adx_module_sdk.channel import Channel, ChannelClosedError
from adx_module_sdk.errors import SdkError
from adx_modules.sandboxes.runner.bridge import HostBridge

LOG = logging.getLogger("adx_modules.runner.module")
JS_BOOTSTRAP = Path(adx_module_sdk.__file__).parent / "js" / "process.mjs"
TAIL_LINES = 20
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Launch:
    """Everything the process is started with."""

    package: Path
    workdir: Path
    identity: dict[str, str]
    config: dict[str, Any]
    limits: dict[str, int]
    readable: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    pids_cgroup: str | None = None
    cpu_cgroup: str | None = None
    runtime: str = "python"

    def confinement(self) -> dict[str, Any]:
        return {
            "limits": self.limits,
            "readable": [str(self.package), *self.readable],
            "writable": list(self.writable),
            "pids_cgroup": self.pids_cgroup,
            "cpu_cgroup": self.cpu_cgroup,
        }


def command(launch: Launch, fd: int) -> list[str]:
    """The module's process: the SDK's Python bootstrap, or for JavaScript the launcher that
    confines and then becomes ``node`` running the JavaScript SDK's bootstrap."""
    if launch.runtime == "javascript":
        node = shutil.which("node")
        if node is None:
            raise ModuleCallError(
                "RuntimeUnavailable", "the runner has no node executable: JavaScript cannot run"
            )
        heap = max(16, launch.limits.get("memory_bytes", 256 * 2**20) // 2**20)
        return [
            sys.executable, "-I", "-B", "-m", "adx_module_sdk.launch",
            json.dumps(launch.confinement()), "--",
            node, f"--max-old-space-size={heap}", str(JS_BOOTSTRAP), "--fd", str(fd),
        ]  # fmt: skip
    return [sys.executable, "-I", "-B", "-m", "adx_module_sdk.process", "--fd", str(fd)]


@dataclass
class Started:
    """What the module serves, and what the kernel enforces for it."""

    routes: list[dict[str, Any]]
    subscriptions: list[str]
    workflows: list[dict[str, Any]]
    enforced: dict[str, Any]
    pid: int = 0
    notes: list[str] = field(default_factory=list)


class ModuleCallError(Exception):
    """A call into the module failed; ``reason`` is stable (DeadlineExceeded, ModuleCrashed,
    ModuleError), ``message`` says what happened."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def environment(workdir: Path) -> dict[str, str]:
    """All the environment a module's process gets: nothing of the runner's (no credentials,
    no addresses)."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
    }


class ModuleProcess:
    """A started module, until it ends."""

    def __init__(self, launch: Launch, bridge: HostBridge) -> None:
        self._launch = launch
        self._bridge = bridge
        self._process: asyncio.subprocess.Process | None = None
        self._channel: Channel | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.killed_for: str | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, seconds: float) -> Started:
        """Spawn, confine and initialize; ModuleCallError (and no process left) on failure."""
        launch = self._launch
        launch.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(launch.workdir, 0o700)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *command(launch, theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                cwd=launch.workdir,
                env=environment(launch.workdir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._channel = await Channel.over_socket(ours, self._bridge.call)
        self._tasks = [
            asyncio.create_task(self._channel.serve()),
            asyncio.create_task(self._read(self._process.stdout, "stdout")),
            asyncio.create_task(self._read(self._process.stderr, "stderr")),
        ]
        args = {
            **launch.confinement(),
            "package": str(launch.package),
            "identity": launch.identity,
            "config": launch.config,
        }
        try:
            answer = await self.call("init", args, seconds, what="starting")
        except ModuleCallError:
            await self.kill("it failed to start")
            raise
        return Started(
            routes=list(answer["routes"]),
            subscriptions=list(answer["subscriptions"]),
            workflows=list(answer["workflows"]),
            enforced=dict(answer["enforced"]),
            pid=self.pid,
        )

    async def call(self, op: str, args: dict[str, Any], seconds: float, what: str = "") -> Any:
        """Call the module; past ``seconds`` its process is killed."""
        if self._channel is None or not self.running:
            raise ModuleCallError(
                "ModuleCrashed", f"the module's process is not running{self._ended()}"
            )
        try:
            return await self._channel.call(op, args, seconds)
        except TimeoutError:
            reason = f"{what or op} took over {seconds:g}s"
            await self.kill(reason)
            raise ModuleCallError(
                "DeadlineExceeded", f"{reason}: its process was stopped and will be started again"
            ) from None
        except ChannelClosedError:
            await self._wait_exit(2.0)
            raise ModuleCallError(
                "ModuleCrashed", f"the module's process ended{self._ended()}"
            ) from None
        except SdkError as error:
            raise ModuleCallError("ModuleError", f"{error.code}: {error.message}") from None

    def ended(self) -> str:
        """How the process ended and why, with its last words; empty while it runs."""
        return self._ended().removeprefix(": ")

    def _ended(self) -> str:
        if self._process is None or self._process.returncode is None:
            return ""
        code = self._process.returncode
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        why = f" ({self.killed_for})" if self.killed_for else ""
        last = next((line for line in reversed(self.tail) if line.strip()), "")
        return f": {how}{why}" + (f"; its last words: {last[:300]}" if last else "")

    async def _read(self, stream: asyncio.StreamReader | None, name: str) -> None:
        """Label every line the module writes with whose it is."""
        if stream is None:
            return
        identity = self._launch.identity
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over the stream's limit: dropped, the next one read
                continue
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self.tail.append(text)
            try:
                record = json.loads(text)
                if not isinstance(record, dict):
                    raise ValueError
            except ValueError:
                record = {"level": "info" if name == "stdout" else "warning", "message": text}
            LOG.info(json.dumps({**record, **identity, "stream": name}, default=str))

    async def _wait_exit(self, seconds: float) -> None:
        if self._process is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), seconds)

    async def kill(self, why: str) -> None:
        """SIGKILL the process and everything it forked (its session)."""
        if self._process is not None and self._process.returncode is None:
            self.killed_for = why
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            await self._wait_exit(5.0)
        await self._close()

    async def stop(self) -> None:
        """Ask the module to stop, then end the process (killed if it does not)."""
        if self.running:
            with contextlib.suppress(ModuleCallError):
                await self.call("stop", {}, STOP_GRACE, what="stopping")
            await self._wait_exit(STOP_GRACE)
        await self.kill("stopped by the runner")

    async def _close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
