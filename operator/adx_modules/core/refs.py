"""What crosses Temporal between features: the payload base and the reference to an installation.

Why it exists: the installations feature hands its installations to the sandboxes feature, and
workflows hand payloads to activities in other processes. Both sides need the same small,
frozen, strict models (a misspelt field is refused, not dropped), declared below both.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """A Temporal payload: frozen, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InstallationRef(Payload):
    """Which installation, at which generation."""

    namespace: str
    name: str
    uid: str
    generation: int


class HostedInstallation(Protocol):
    """An installation as a host of modules names it (what its event dispatcher and its
    health reporter ask of each)."""

    @property
    def key(self) -> str:
        """``namespace/name``."""
        ...

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...
