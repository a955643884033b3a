"""The whole local stack — control plane, Temporal, PostgreSQL, an OCI registry — as one object.

Why it exists: ``make run``, ``make stack-up`` and the test session all need the same stack
started the same way. It builds the toolchain if needed, starts every part, installs the CRDs
that exist, and describes itself as ``ADX_*`` variables (also written to a shell-sourceable
``env`` file) so the operator, the worker and scripts point at it without further setup.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import yaml

from adx_modules.core.errors import DevStackError
from adx_modules.devstack import samples, vulndb
from adx_modules.devstack.controlplane import ControlPlane
from adx_modules.devstack.pki import CertificateAuthority, write_kubeconfig
from adx_modules.devstack.postgres import PostgresServer
from adx_modules.devstack.process import free_port
from adx_modules.devstack.registry import LocalRegistry
from adx_modules.devstack.stripe import StripeEmulator
from adx_modules.devstack.temporal import TemporalDevServer
from adx_modules.devstack.toolchain import build_all, project_root, python_tool


@dataclass
class StartupTimes:
    """Seconds each phase of a start took (reported by ``make run`` and the benchmarks)."""

    toolchain: float = 0.0
    control_plane: float = 0.0
    services: float = 0.0  # Temporal, PostgreSQL, the registry
    crds: float = 0.0

    @property
    def total(self) -> float:
        return self.toolchain + self.control_plane + self.services + self.crds


class DevStack:
    """The local stack in ``state_dir``; as a context manager it always stops what it started."""

    def __init__(
        self, state_dir: Path, *, fresh: bool = False, nodes: int = 1, audit: bool = False
    ) -> None:
        self.state_dir = state_dir.resolve()
        if fresh and self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.nodes = nodes
        self.audit = audit  # the apiserver logs every write (ControlPlane.audit_log)
        self.times = StartupTimes()
        self.control_plane: ControlPlane | None = None
        self.temporal: TemporalDevServer | None = None
        self.postgres: PostgresServer | None = None
        self.registry: LocalRegistry | None = None
        self.stripe: StripeEmulator | None = None
        self.api_port = 0
        self.vulnerability_db = ""

    @classmethod
    def attach(cls, state_dir: Path) -> DevStack:
        """A handle on a stack another process runs (for install_crds and paths only)."""
        return cls(state_dir)

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def start(self) -> None:
        """Start every part; on any failure stop what already runs and raise DevStackError."""
        started = time.monotonic()
        bin_dir = build_all()
        self.times.toolchain = time.monotonic() - started
        try:
            # spawned from this thread, which outlives them (children die with their parent)
            self.temporal = TemporalDevServer(self.state_dir)
            self.temporal.launch()
            self.postgres = PostgresServer(self.state_dir)
            self.postgres.launch()
            self.registry = LocalRegistry(self.state_dir, bin_dir)
            self.registry.launch()
            self.stripe = StripeEmulator(self.state_dir)
            self.stripe.launch()
            phase = time.monotonic()
            self.control_plane = ControlPlane(
                self.state_dir, bin_dir, nodes=self.nodes, audit=self.audit
            )
            self.control_plane.start()
            self.times.control_plane = time.monotonic() - phase
            phase = time.monotonic()
            self.temporal.wait_ready()
            self.postgres.wait_ready()
            self.registry.wait_ready()
            self.stripe.wait_ready()
            # the HTTP API's port, chosen now: the emulator's webhooks are sent there
            self.api_port = free_port(8086)
            self.stripe.send_webhooks_to(f"http://127.0.0.1:{self.api_port}")
            self.vulnerability_db = vulndb.publish(bin_dir, self.registry.address)
            samples.publish(self.registry.address)
            self.times.services = time.monotonic() - phase
            phase = time.monotonic()
            self.install_crds()
            self.times.crds = time.monotonic() - phase
        except BaseException:
            self.stop()
            raise
        self.write_env_file()

    def install_crds(self) -> None:
        """Server-side apply ``crds/*.yaml`` (those that exist so far); wait until Established."""
        crds = sorted((project_root() / "crds").glob("modules.adxcore.com_*.yaml"))
        if not crds:
            return
        kubectl = [str(python_tool("kubectl")), f"--kubeconfig={self.kubeconfig}"]
        files = [arg for path in crds for arg in ("-f", str(path))]
        for argv in (
            [*kubectl, "apply", "--server-side", "--force-conflicts", *files],
            [*kubectl, "wait", "--for=condition=Established", "--timeout=60s", *files],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise DevStackError(f"installing the CRDs failed: {result.stderr.strip()}")

    def environment(self) -> dict[str, str]:
        """The variables that point a process (or kubectl) at this stack."""
        if not (
            self.control_plane and self.temporal and self.postgres and self.registry and self.stripe
        ):
            raise DevStackError("the stack is not running")
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "ADX_TEMPORAL_ADDRESS": self.temporal.address,
            "ADX_TEMPORAL_NAMESPACE": self.temporal.namespace,
            "ADX_DATABASE_URL": self.postgres.url,
            # plain HTTP on loopback: the local registry only (a cluster's registry uses TLS)
            "ADX_REGISTRY_ADDRESS": self.registry.address,
            "ADX_REGISTRY_INSECURE": "true",
            # the samples' registry, served by the local one (as a cluster mirrors registries)
            "ADX_REGISTRY_MIRRORS": f"{samples.SAMPLES_REGISTRY}={self.registry.address}",
            # Trivy's database, built from the repository's advisories, served by that registry
            "ADX_SECURITY_VULNERABILITY_DB": self.vulnerability_db,
            # the HTTP API on loopback, and card payments through the Stripe emulator
            "ADX_SERVER_HOST": "127.0.0.1",
            "ADX_SERVER_PORT": str(self.api_port),
            "ADX_MARKETPLACE_STRIPE_API_KEY": self.stripe.api_key,
            "ADX_MARKETPLACE_STRIPE_API_BASE": self.stripe.url,
            "ADX_MARKETPLACE_STRIPE_WEBHOOK_SECRET": self.stripe.webhook_secret,
            "ADX_DEVSTACK_DIR": str(self.state_dir),
            "ADX_DEVSTACK_TEMPORAL_UI": self.temporal.ui_url,
        }

    def write_env_file(self) -> Path:
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.environment().items()]
        self.env_file.write_text("\n".join(lines) + "\n")
        return self.env_file

    def stop(self) -> None:
        """Stop everything this object started, in reverse order; remove the env file."""
        self.env_file.unlink(missing_ok=True)
        for part in (self.control_plane, self.stripe, self.registry, self.postgres, self.temporal):
            if part is not None:
                part.stop()

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse an ``env`` file written by :meth:`DevStack.write_env_file`."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, raw = line.removeprefix("export ").partition("=")
            values[key] = shlex.split(raw)[0] if raw else ""
    return values


def mint_user(state_dir: Path, user: str, groups: tuple[str, ...] = ()) -> Path:
    """A kubeconfig for a non-admin identity of the stack in ``state_dir``; RBAC decides what
    it may do (the identity is a client certificate signed by the stack's CA)."""
    admin = yaml.safe_load((state_dir / "kubeconfig").read_text())
    server: str = admin["clusters"][0]["cluster"]["server"]
    ca = CertificateAuthority(state_dir / "pki")
    safe = "".join(char if char.isalnum() else "-" for char in user)
    client = ca.issue(f"user-{safe}", user, organizations=groups)
    target = state_dir / "users" / f"{safe}.kubeconfig"
    return write_kubeconfig(target, server, ca.files.cert, client, user)


def default_state_dir() -> Path:
    from adx_modules.devstack.toolchain import cache_dir  # noqa: PLC0415

    return Path(os.environ.get("ADX_DEVSTACK_DIR") or cache_dir() / "devstack")


def host_environment(
    section: str, invoke_port: int | None, admin_port: int | None
) -> dict[str, str]:
    """The settings that make a local host of modules (``wasm``, ``runner``) and the worker
    find each other: loopback ports (the preferred ones when free) and a fresh admin token."""
    invoke, admin = free_port(invoke_port), free_port(admin_port)
    while admin == invoke:
        admin = free_port(None)
    prefix = f"ADX_{section.upper()}_"
    return {
        f"{prefix}LISTEN_HOST": "127.0.0.1",
        f"{prefix}INVOKE_PORT": str(invoke),
        f"{prefix}ADMIN_PORT": str(admin),
        f"{prefix}INVOKE_URL": f"http://127.0.0.1:{invoke}",
        f"{prefix}ADMIN_URL": f"http://127.0.0.1:{admin}",
        f"{prefix}ADMIN_TOKEN": secrets.token_urlsafe(24),
    }


def wasm_host_environment(
    invoke_port: int | None = 8090, admin_port: int | None = 8091
) -> dict[str, str]:
    """The local WASM host's settings, for it and the worker."""
    return host_environment("wasm", invoke_port, admin_port)


def runner_environment(
    invoke_port: int | None = 8092, admin_port: int | None = 8093
) -> dict[str, str]:
    """The local module runner's settings, for it and the worker."""
    return host_environment("runner", invoke_port, admin_port)
