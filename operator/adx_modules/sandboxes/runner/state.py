"""What the runner knows of each installation it serves, and how it refuses a call.

Why it exists: the host (:mod:`host`) keeps one :class:`Running` per installation; the event
dispatcher and the health reporter (:mod:`views`) read the same record. Kept apart so each of
them imports the record, not the host.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from adx_modules.sandboxes.runner.cgroups import ModuleCgroups
from adx_modules.sandboxes.runner.children import ModuleProcess, Started
from adx_modules.sandboxes.runner.records import RunnerRegistration
from adx_modules.sandboxes.runner.trusted import TrustedModule

FAILING_WINDOW = 60.0  # a process that ended on its own this recently: Healthy=False


class RunnerError(Exception):
    """A call the runner answers with an HTTP status and a stable reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass
class Running:
    """An installation's serving process, and what is known about its latest attempts."""

    registration: RunnerRegistration
    process: ModuleProcess | TrustedModule | None = None
    started: Started | None = None
    cgroups: ModuleCgroups | None = None
    restarts: int = 0
    failure: str = ""
    """Why the latest revision did not start (empty once it serves)."""
    last_exit: str = ""
    """Why the process last ended on its own (a crash, a deadline), kept after the restart."""
    exits: list[float] = field(default_factory=list)
    """When its process ended on its own lately (monotonic seconds), for its health."""
    event_error: str = ""
    """Why an event was last skipped (after the dispatcher's retries)."""
    failed_revision: int = 0
    next_try: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def describe(self) -> dict[str, Any]:
        """The installation as the admin port's ``GET /installations`` shows it."""
        started, process, registration = self.started, self.process, self.registration
        return {
            "namespace": registration.namespace,
            "name": registration.name,
            "loaded": True,
            "revision": registration.revision,
            "serving": started is not None and process is not None and process.running,
            "active": registration.active,
            "pid": process.pid if process else 0,
            "routes": started.routes if started else [],
            "subscriptions": started.subscriptions if started else [],
            "enforced": started.enforced if started else {},
            "restarts": self.restarts,
            "failure": self.failure,
            "lastExit": self.last_exit,
            "eventError": self.event_error,
        }


def declared_workflow(started: Started, installation: str, workflow: str) -> dict[str, Any]:
    """What the module serving ``installation`` declares for ``workflow`` (timeout, attempts,
    schemas); a 404 naming the workflows it does declare."""
    for declared in started.workflows:
        if declared["name"] == workflow:
            return dict(declared)
    names = ", ".join(w["name"] for w in started.workflows) or "none"
    raise RunnerError(
        404, "NoSuchWorkflow", f"{installation} declares no workflow {workflow} ({names})"
    )


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
