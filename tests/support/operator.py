"""The operator as users run it: ``adx-module-service operator``, as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from adx_modules.devstack.process import free_port


class OperatorProcess:
    """Starts the operator against the test stack; its log is kept for assertions."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.health_port = free_port(None)
        self.log_path = log_path
        self.env = {**os.environ, **env, "ADX_SERVER_HEALTH_PORT": str(self.health_port)}
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("wb") as log:
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "adx_modules", "operator"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise RuntimeError(f"operator exited:\n{self.log()}")
            try:
                if httpx.get(self.health_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"operator not live after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._popen and self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._popen.kill()
