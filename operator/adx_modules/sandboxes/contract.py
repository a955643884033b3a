"""What the lifecycle asks of a sandbox, whatever its isolation: the sandboxes' public contract.

Why it exists: the installations feature drives every isolation level through the same four
activities (provision, wait until healthy, activate, deprovision), by name, with
these payloads; the backend for the request's isolation does the work. Declared apart from
the backends so workflows import no side effect.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.core.refs import InstallationRef, Payload


class SandboxActivities:
    """Activity names (the workflows call them by name)."""

    PROVISION = "provision"
    WAIT_HEALTHY = "wait_healthy"
    ACTIVATE = "activate"
    DEPROVISION = "deprovision"


class ProvisionRequest(Payload):
    """Bring the sandbox of one installation to a revision."""

    ref: InstallationRef
    spec: ModuleInstallationSpec
    module: ModuleSpec
    isolation: str
    revision: int


class Endpoint(Payload):
    """Where a provisioned module can be reached (status.endpoints)."""

    name: str
    url: str


class ProvisionResult(Payload):
    """What was provisioned ((kind, name), in creation order) and where it answers."""

    objects: list[tuple[str, str]]
    configuration_hash: str
    endpoints: list[Endpoint] = []


class HealthRequest(Payload):
    """Wait until the installation's sandbox is healthy, at most ``timeout_seconds``."""

    ref: InstallationRef
    timeout_seconds: Annotated[int, Field(ge=1)]
    isolation: str = "container"


class ActivationRequest(Payload):
    """Route traffic to the sandbox (active) or stop routing it (inactive)."""

    ref: InstallationRef
    active: bool
    isolation: str | None = None
    """None (an uninstall that does not know it): every backend."""


class SandboxRequest(Payload):
    """One installation's sandbox, whichever backend holds it (``isolation`` None: ask all)."""

    ref: InstallationRef
    isolation: str | None = None
    keep_data_of: str | None = None
    """On deprovision: keep the module's data for the next installation of the name (the
    module's id; ``spec.uninstall.cleanupData: false``); None removes it."""


class SandboxDescription(Payload):
    """What a backend holds for one installation."""

    isolation: str
    objects: list[str]
    """What exists, e.g. ``Deployment/mod-analytics``."""
    endpoints: list[Endpoint] = []


class ModuleWorkflowActivities:
    """Activity names of a module-contributed workflow (``ModuleWorkflow``)."""

    WORKFLOW = "ModuleWorkflow"
    DESCRIBE = "describe_module_workflow"
    RUN = "run_module_workflow"

    @staticmethod
    def workflow_id(namespace: str, installation: str, name: str, key: str) -> str:
        """One run per ``key`` (the caller's idempotency key): a retried start joins it."""
        return f"mw/{namespace}/{installation}/{name}/{key}"


class ModuleWorkflowRequest(Payload):
    """Run a workflow a module declares (``@workflow``), in its tenant."""

    namespace: str
    installation: str
    """The installation whose module declares the workflow."""
    workflow: str
    input: Any = None
    caller: str
    """The installation that asked (it holds ``workflow:execute:<workflow>``)."""
    host: str = ""
    """Which host runs the target installation (``runner``, ``wasm``): found by the first
    step, carried to the next."""


class StepPolicy(Payload):
    """The declared timeout and attempts of a module workflow's step, and who runs it."""

    timeout_seconds: Annotated[int, Field(ge=1, le=86_400)]
    max_attempts: Annotated[int, Field(ge=1, le=100)]
    host: str = "runner"
