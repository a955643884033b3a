"""The service as users run it: ``adx-module-service operator``, ``worker`` or ``wasm-host`` as
children."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from adx_modules.core import failpoints
from adx_modules.devstack.process import die_with_parent, free_port


@dataclass
class Crash:
    """Where a worker armed with a failpoint died."""

    workflow_id: str = ""


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
                preexec_fn=die_with_parent,  # noqa: PLW1509 - a killed test run leaves no process
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
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

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

    def wait_exit(self, timeout: float) -> int:
        """The exit status of the running process once it ends by itself (negative: the
        signal that ended it); fail after ``timeout``."""
        if self._popen is None:
            raise RuntimeError(f"{self.role} is not started")
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.role} still runs after {timeout}s") from None

    @contextmanager
    def crashing_at(self, point: str, workflow_prefix: str) -> Iterator[Crash]:
        """Run the block with this worker armed to die at failpoint ``point`` of a workflow
        whose id starts with ``workflow_prefix`` (``core/failpoints.py``); then check that it
        died there, by SIGKILL, and start it again, unarmed."""
        self.kill()
        self.env[failpoints.ENVIRONMENT] = f"{point}@{workflow_prefix}"
        crash = Crash()
        try:
            self.start()
            logged = len(self.log())
            yield crash
            status = self.wait_exit(timeout=120)
        finally:  # never leave an armed worker behind
            del self.env[failpoints.ENVIRONMENT]
            self.kill()
            self.start()
        assert status == -signal.SIGKILL, f"the {self.role} ended with {status}"
        reached = re.findall(r"failpoint (\S+) reached in (\S+):", self.log()[logged:])
        assert [where for where, _ in reached] == [point]
        crash.workflow_id = reached[0][1]

    @contextmanager
    def pausing_at(self, point: str, subject: str, seconds: float) -> Iterator[None]:
        """Run the block with this operator armed to pause ``seconds`` at failpoint ``point``
        for the object ``subject`` (``namespace/name``); then check that it paused there, and
        start it again, unarmed."""
        self.kill()
        self.env[failpoints.ENVIRONMENT] = f"{point}~{seconds}@{subject}"
        try:
            self.start()
            logged = len(self.log())
            yield
            reached = re.findall(r"failpoint (\S+) reached for (\S+): pausing", self.log()[logged:])
        finally:  # never leave an armed process behind
            del self.env[failpoints.ENVIRONMENT]
            self.kill()
            self.start()
        assert (point, subject) in reached, f"{point} was not reached for {subject}: {reached}"

    def sample(self, name: str, **labels: str) -> float:
        """The sum of the process's metric sample ``name`` over the series carrying ``labels``
        (0 when there is none yet)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def stop(self) -> None:
        if self._popen and self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._popen.kill()


def json_lines(log: str) -> list[dict[str, Any]]:
    """The records of a JSON log, one per line; a line that is not one JSON object fails."""
    records = []
    for number, line in enumerate(log.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"log line {number} is not JSON: {line[:200]}") from None
    return records


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
