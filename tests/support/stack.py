"""What a test knows about the running stack."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from adx_modules.devstack.stack import mint_user


@dataclass(frozen=True)
class StackInfo:
    """The stack's environment (``KUBECONFIG``, ``ADX_*``) and its state directory."""

    env: dict[str, str]
    state_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return Path(self.env["KUBECONFIG"])

    @property
    def temporal_address(self) -> str:
        return self.env["ADX_TEMPORAL_ADDRESS"]

    @property
    def temporal_namespace(self) -> str:
        return self.env["ADX_TEMPORAL_NAMESPACE"]

    @property
    def database_url(self) -> str:
        return self.env["ADX_DATABASE_URL"]

    def mint_user(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for a non-admin identity."""
        return mint_user(self.state_dir, user, groups)


@contextmanager
def stack_home() -> Iterator[Path]:
    """A folder for a local stack outside pytest's own: any pytest session that starts (the
    scaffold and example tests run their own) resets ``/tmp/pytest-of-<user>`` to mode 0700,
    and PostgreSQL, which runs as an unprivileged user, would lose its way to its data mid-run."""
    home = Path(tempfile.mkdtemp(prefix="adx-test-stack-"))
    home.chmod(0o711)
    try:
        yield home / "stack"
    finally:
        shutil.rmtree(home, ignore_errors=True)
