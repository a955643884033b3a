"""The local OCI registry: where the stack's module artifacts (images, packages, WASM) live.

Why it exists: every module the service installs is fetched, scanned and pinned by digest from
an OCI registry. Locally that is the CNCF distribution registry, built from the Go module proxy
(``toolchain/registry``), serving plain HTTP on loopback only, its blobs on disk under the
stack's state directory so that what was published survives a restart. In a cluster the service
uses the registry the cluster already has (TLS, credentials from a Secret): docs/devstack.md.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import yaml

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.process import ManagedProcess, free_port, port_open


class LocalRegistry:
    """One ``registry serve`` process on 127.0.0.1, storing into ``state_dir/registry``."""

    def __init__(self, state_dir: Path, bin_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = state_dir / "registry"
        self.binary = bin_dir / "registry"
        self.port = port or self._remembered_port() or free_port(5000)
        self.process: ManagedProcess | None = None

    def _remembered_port(self) -> int | None:
        """The port of the previous start, if it is free: published references name it, so a
        restarted stack keeps serving them under the same address."""
        try:
            port = int((self.state_dir / "port").read_text())
        except (OSError, ValueError):
            return None
        return None if port_open(port) else port

    @property
    def address(self) -> str:
        """host:port, as image references name it (``127.0.0.1:5000/tenant/module:1.0``)."""
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    def config(self) -> dict[str, object]:
        return {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                # deletes are allowed: published artifacts of removed test modules can be pruned
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.address,
                "headers": {"X-Content-Type-Options": ["nosniff"]},
                # the registry's own debug server stays off: nothing else listens
            },
            "validation": {"disabled": False},
        }

    def _healthy(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def launch(self) -> None:
        if not self.binary.exists():
            raise DevStackError(f"{self.binary} is missing: run 'make toolchain'")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "port").write_text(str(self.port))
        config_file = self.state_dir / "config.yml"
        config_file.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.process = ManagedProcess(
            "registry",
            [str(self.binary), "serve", str(config_file)],
            self.state_dir.parent / "logs" / "registry.log",
        )
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.process is None:
            raise DevStackError("LocalRegistry: launch() before wait_ready()")
        self.process.wait_until(self._healthy, timeout, f"serving /v2/ on {self.address}")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None
