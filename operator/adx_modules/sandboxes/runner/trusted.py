"""A trusted module (isolation ``none``): run in the runner's own process, unconfined.

Why it exists: a platform's own modules may need what confinement takes away (its files, its
network, no per-call process hop). The sandbox policy (``sandbox.trusted_modules``) names them;
admission refuses ``none`` to every other module, and the runner checks again before it loads
one. Such a module shares the runner's memory, CPU and failures: a handler that spins past its
deadline cannot be stopped, only reported, and nothing the kernel offers narrows it. It is the
same SDK and the same host API checks (its calls still need their permissions): what it gives
up is the process boundary, not the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from typing import Any

from adx_module_sdk.errors import SdkError
from adx_module_sdk.process import Served
from adx_modules.sandboxes.runner.bridge import HostBridge
from adx_modules.sandboxes.runner.children import Launch, ModuleCallError, Started


class TrustedModule:
    """The same surface as :class:`~adx_modules.sandboxes.runner.children.ModuleProcess`."""

    def __init__(self, launch: Launch, bridge: HostBridge) -> None:
        self._launch = launch
        name = hashlib.sha256(str(launch.package).encode() + str(id(self)).encode()).hexdigest()
        self._served = Served(bridge, confined=False, name=f"adx_trusted_{name[:16]}")
        self._running = False
        self.killed_for: str | None = None

    @property
    def pid(self) -> int:
        return os.getpid()

    @property
    def running(self) -> bool:
        return self._running

    async def start(self, seconds: float) -> Started:
        args = {
            "package": str(self._launch.package),
            "identity": self._launch.identity,
            "config": self._launch.config,
        }
        answer = await self.call("init", args, seconds, what="starting")
        self._running = True
        return Started(
            routes=list(answer["routes"]),
            subscriptions=list(answer["subscriptions"]),
            workflows=list(answer["workflows"]),
            enforced=dict(answer["enforced"]),
            pid=self.pid,
        )

    async def call(self, op: str, args: dict[str, Any], seconds: float, what: str = "") -> Any:
        try:
            return await asyncio.wait_for(self._served.handle(op, args), seconds)
        except TimeoutError:
            raise ModuleCallError(
                "DeadlineExceeded",
                f"{what or op} took over {seconds:g}s (a trusted module runs in the runner's "
                "process: it cannot be stopped, only reported)",
            ) from None
        except SdkError as error:
            raise ModuleCallError("ModuleError", f"{error.code}: {error.message}") from None
        except Exception as error:  # its code runs here: any failure is its answer
            raise ModuleCallError("ModuleError", f"{type(error).__name__}: {error}") from None

    def ended(self) -> str:
        return "" if self._running else (self.killed_for or "stopped")

    async def kill(self, why: str) -> None:
        self.killed_for = why
        self._running = False

    async def stop(self) -> None:
        if self._running:
            with contextlib.suppress(ModuleCallError):
                await self.call("stop", {}, 5.0, what="stopping")
        await self.kill("stopped by the runner")
