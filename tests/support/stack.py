"""What a test knows about the running stack."""

from __future__ import annotations

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
