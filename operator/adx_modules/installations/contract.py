"""The lifecycle's internal contract: what handlers hand to workflows and workflows to activities.

Why it exists: workflows and activities run in different processes and restart at any time;
their inputs and outputs cross Temporal as pydantic models (``pydantic_data_converter``), so
they are declared once, here, below both layers. Workflow ids are deterministic (kind, uid,
generation), so a handler that runs twice attaches to the workflow it already started.
"""

from __future__ import annotations

from typing import Any, Literal

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.meta import ConditionStatus
from adx_modules.api.module import ModuleSpec
from adx_modules.core.refs import InstallationRef, Payload

Action = Literal["install", "update", "uninstall", "revoke"]


def workflow_id(ref: InstallationRef, *, uninstall: bool = False) -> str:
    """``mi/<namespace>/<name>/<uid>/g<generation>`` for the install or update of a
    generation (whichever it is, decided when it starts); ``.../uninstall`` for the delete."""
    base = f"mi/{ref.namespace}/{ref.name}/{ref.uid}"
    return f"{base}/uninstall" if uninstall else f"{base}/g{ref.generation}"


class LifecycleRequest(Payload):
    """What a lifecycle workflow is asked to do."""

    ref: InstallationRef
    spec: ModuleInstallationSpec
    actor: str = "unknown"
    """Who asked: the field manager that last changed the spec."""
    previous_workflow_id: str | None = None
    """The workflow of an earlier generation, which this one supersedes."""
    recent_workflow_ids: list[str] = []
    """Workflows of the latest generations, newest first, which may run without having
    reported themselves in status.workflow yet (an edit just before the delete): the uninstall
    cancels them first, then the previous."""
    dependencies: list[str] = []
    """Installations this one was resolved against (status.resolvedDependencies): the uninstall
    removes those installed as dependencies that nothing else requires any more."""
    isolation: str | None = None
    """The isolation in effect (status.isolation), for the uninstall: which sandbox to remove
    (None: ask every backend)."""


class PlannedDependency(Payload):
    """A module the installation needs, at the version the resolver chose."""

    module_id: str
    version: str
    installation: str
    """The ModuleInstallation that provides it in the namespace."""
    create: bool
    """Nothing provides it yet: the installation is created as a dependency."""
    level: int
    """Dependencies of one level do not depend on each other: they install in parallel."""
    permissions: list[str] = []


class Resolution(Payload):
    """The module version chosen for a request, and what the choice implies."""

    module_name: str
    """The Module object."""
    module: ModuleSpec
    security_score: int | None
    module_phase: str | None
    isolation: str
    missing_permissions: list[str]
    scanning_enabled: bool
    min_security_score: int
    dependencies: list[PlannedDependency] = []
    """Everything the module needs, in install order (dependencies first)."""
    digest: str | None = None
    """The digest of the artifact as scanned (``module`` is pinned to it)."""
    health_timeout_seconds: int = 300
    """How long a revision has to become healthy: spec.update.healthTimeoutSeconds, else the
    setting sandbox.health_timeout_seconds."""


class RevisionInfo(Payload):
    """A revision as recorded in PostgreSQL."""

    revision: int
    version: str
    configuration: dict[str, Any]


class InstallationRecord(Payload):
    """The installation's row (and, with a revision, the revision it now runs)."""

    ref: InstallationRef
    module_id: str
    phase: str
    workflow_id: str
    version: str | None = None
    isolation: str | None = None
    revision: int | None = None
    configuration: dict[str, Any] | None = None


class DependencyRequest(Payload):
    """Create the installations of these dependencies (one level) in the namespace."""

    ref: InstallationRef
    dependencies: list[PlannedDependency]


class InstallationsRequest(Payload):
    """Some installations of one namespace, by name."""

    ref: InstallationRef
    names: list[str]
    timeout_seconds: int = 600


class BackupRequest(Payload):
    ref: InstallationRef
    workflow_id: str


class Activities:
    """Activity names: workflows call activities by name, so they import no side effects."""

    RESOLVE = "resolve"
    SUPERSEDE = "supersede"
    REPORT = "report"
    LAST_REVISION = "last_revision"
    BACKUP = "backup"
    ENSURE_DEPENDENCIES = "ensure_dependencies"
    WAIT_INSTALLATIONS = "wait_installations"
    COLLECT_DEPENDENCIES = "collect_dependencies"
    WITHDRAW = "withdraw_installation"


class ConditionChange(Payload):
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


class AuditEntry(Payload):
    """One line of the audit trail."""

    step: str
    outcome: str
    detail: str = ""


class StatusReport(Payload):
    """What a workflow reports after a step: the installation's status, the audit trail and,
    when it changes, the installation's record. One activity writes all three (fewer round
    trips through Temporal), records first, so a Ready status implies a written record."""

    ref: InstallationRef
    workflow_id: str
    action: Action = "install"
    actor: str = "unknown"
    audit: list[AuditEntry] = []
    record: InstallationRecord | None = None
    step: str
    progress: int
    phase: str | None = None
    rollup: Literal["ready", "reconciling", "stalled"] | None = None
    reason: str = ""
    message: str = ""
    conditions: list[ConditionChange] = []
    fields: dict[str, Any] = {}
    """Other status fields, by the status model's names (installed_version, endpoints, ...)."""
    done: bool = False
    """The workflow is over: clear status.workflow."""
    failure: bool | None = None
    """True counts a failure; False (a success) resets the consecutive count."""
    revision: dict[str, Any] | None = None
    """A revision to append to status.history (kept to the last 20)."""
    clear: list[str] = []
    """Condition types to remove."""
