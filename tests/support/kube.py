"""kubectl from the pinned wheel, as tests (and users) drive the cluster."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from adx_modules.devstack.toolchain import python_tool


class KubectlError(AssertionError):
    """kubectl exited non-zero; the message carries its stderr."""


class Kubectl:
    """Run kubectl with one kubeconfig and, optionally, a default namespace."""

    def __init__(self, kubeconfig: Path, namespace: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(python_tool("kubectl")), f"--kubeconfig={self.kubeconfig}"]
        if self.namespace:
            argv.append(f"--namespace={self.namespace}")
        result = subprocess.run(
            [*argv, *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(
        self, *documents: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        text = yaml.safe_dump_all(documents)
        return self("apply", "--server-side", "-f", "-", stdin=text, check=check)

    def create(
        self, *documents: dict[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self("create", "-f", "-", stdin=yaml.safe_dump_all(documents), check=check)

    def wait_for(self, predicate: Any, timeout: float = 60.0, interval: float = 0.5) -> Any:
        """Poll ``predicate()`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
