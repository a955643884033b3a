"""The seam every isolation level plugs into: a sandbox backend, and the registry that picks one.

Why it exists: installing a module is the same lifecycle whatever runs it (a pod, a WASM host, a
runner process, the trusted runner); only these five operations differ. A backend knows nothing
of Temporal: long waits report progress through a callback (the activity turns it into
heartbeats). Every operation is idempotent: the activities run at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from adx_modules.api import reasons as r
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef
from adx_modules.sandboxes.contract import (
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxDescription,
)

Progress = Callable[[str], None]
"""Told what a long operation is waiting for (the activity heartbeats it)."""


class SandboxBackend(Protocol):
    """One isolation level."""

    isolation: str

    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """Create or converge the sandbox at ``request.revision``; refuse, naming it, to touch
        anything this installation does not own."""
        ...

    async def wait_healthy(self, request: HealthRequest, progress: Progress) -> str:
        """Return a sentence once healthy; raise StepError(HealthCheckFailed) at the deadline."""
        ...

    async def activate(self, ref: InstallationRef, active: bool) -> None:
        """Route traffic to the sandbox, or stop routing it."""
        ...

    async def deprovision(
        self, ref: InstallationRef, progress: Progress, keep_data_of: str | None = None
    ) -> list[str]:
        """Remove what this installation owns and wait until it is gone; what was removed. The
        module's data (storage, settings, database) too, unless ``keep_data_of`` (the module's
        id) keeps it for the next installation of the name (sandboxes/kept.py)."""
        ...

    async def describe(self, ref: InstallationRef) -> SandboxDescription:
        """What exists for this installation, and where it answers."""
        ...


class SandboxRegistry:
    """The backends by isolation level."""

    def __init__(self, backends: list[SandboxBackend]) -> None:
        self._backends = {backend.isolation: backend for backend in backends}

    @property
    def available(self) -> list[str]:
        return sorted(self._backends)

    def backend(self, isolation: str) -> SandboxBackend:
        """The backend for ``isolation``; StepError(IsolationUnavailable) when there is none."""
        found = self._backends.get(isolation)
        if found is None:
            raise StepError(
                r.ISOLATION_UNAVAILABLE,
                f"spec.isolation: {isolation} is not available in this version; "
                f"available: {', '.join(self.available)}",
            )
        return found

    def chosen(self, isolation: str | None) -> list[SandboxBackend]:
        """The backend for ``isolation`` (if there is one), or every backend when None."""
        if isolation is None:
            return list(self._backends.values())
        found = self._backends.get(isolation)
        return [found] if found else []
