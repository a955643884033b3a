"""The service as users run it: ``adx-module-service operator``, ``worker`` or ``wasm-host`` as
children."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from adx_modules.devstack.process import free_port


class ServiceProcess:
    """One role of the service (``operator`` or ``worker``) against the test stack; its log
    is kept for assertions, and it can be killed (``kill -9``) and started again."""

    def __init__(
        self, role: str, env: dict[str, str], log_path: Path, ready_url: str | None = None
    ) -> None:
        self.role = role
        self.ready_url = ready_url
        self.health_port = free_port(None)
        self.metrics_port = free_port(None)
        self.log_path = log_path
        self.env = {
            **os.environ,
            **env,
            "ADX_SERVER_HEALTH_PORT": str(self.health_port),
            "ADX_SERVER_METRICS_PORT": str(self.metrics_port),
        }
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def start(self, timeout: float = 60) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "adx_modules", self.role],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise RuntimeError(f"{self.role} exited:\n{self.log()}")
            if self._ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.role} not ready after {timeout}s:\n{self.log()}")

    def _ready(self) -> bool:
        if self.role == "worker":  # this start's lines only (a restart appends to the log)
            return "worker serving" in self.log()[self._log_offset :]
        try:
            return httpx.get(self.ready_url or self.health_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.role} is not started")
        return self._popen.pid

    def kill(self) -> None:
        """``kill -9``: no shutdown, no cleanup, as a crash."""
        if self._popen and self._popen.poll() is None:
            self._popen.kill()
            self._popen.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._popen and self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._popen.kill()


@contextmanager
def api_of_its_own(env: dict[str, str], log_dir: Path, **settings: str) -> Iterator[str]:
    """An HTTP API process on a port of its own, with ``settings`` (environment names) over
    ``env``: its base URL while the block runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ServiceProcess(
        "api",
        {**env, "ADX_SERVER_PORT": str(port), **settings},
        log_dir / f"api-{port}.log",
        ready_url=f"{url}/health",
    )
    process.start()
    try:
        yield url
    finally:
        process.stop()
