"""The ``ModuleInstallation`` kind: one tenant's install of a module (namespace = tenant).

Why it exists: it is what a tenant (or GitOps) writes to say "run this module here, configured
so, with these permissions". Its status is where the lifecycle reports: which version runs, what
step the workflow is at, the revisions to roll back to, and why it is not Ready.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from adx_modules.api.meta import KindInfo, ObjectStatus, PrinterColumn, age_column, ready_column
from adx_modules.api.types import (
    ApiModel,
    ModuleId,
    Name,
    Permission,
    ResourceRequirements,
    VersionConstraint,
)

Isolation = Literal["none", "process", "container", "wasm"]
Phase = Literal[
    "Pending",
    "Resolving",
    "AwaitingApproval",
    "AwaitingPurchase",
    "Scanning",
    "Installing",
    "Active",
    "Inactive",
    "Updating",
    "RollingBack",
    "Failed",
    "Uninstalling",
]


class UpdatePolicy(ApiModel):
    """How a change of version or configuration is rolled out. The running revision (version and
    configuration) is always kept, in status.history and PostgreSQL, for rollback."""

    auto_rollback: bool = True
    """Roll back to the previous revision when the update does not become healthy."""
    health_timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = 300
    """How long the new revision has to become healthy."""
    backup_data: bool = False
    """Before rolling out, back up the running revision's configuration, revision history and
    the module's own data (its storage, settings and database tables) in PostgreSQL (table
    backups), as an uninstall with backupData does (the API's ``backup_current``)."""


class UninstallPolicy(ApiModel):
    """What happens on delete."""

    backup_data: bool = False
    """Keep the installation's configuration, revision history and the module's own data (its
    storage and settings) in PostgreSQL (table backups) after it is removed."""
    cleanup_data: bool = True
    """Remove the module's own data (its storage, settings and database tables), after the
    backup when backupData is set. False keeps that data for the next installation of the same
    name in this namespace, which takes it over (a reinstall finds what the module stored)."""
    cascade: bool = False
    """Also uninstall the installations that require this one. Without it, deleting an
    installation others require waits (Stalled, reason RequiredByOthers) until they are gone.
    Dependencies installed for it are removed when nothing requires them any more."""


class SecretReference(ApiModel):
    """A Secret in the installation's namespace."""

    name: Name
    """The Secret; its keys join the configuration as secret values (mounted, never logged)."""


class ModuleInstallationSpec(ApiModel):
    """What the tenant wants installed, and how."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.runtimeClassName) || !has(self.isolation) || "
                    "self.isolation == 'container'",
                    "message": "runtimeClassName applies only to isolation container",
                    "fieldPath": ".runtimeClassName",
                }
            ]
        }
    )

    module: Annotated[
        ModuleId,
        Field(
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self == oldSelf",
                        "message": "module is immutable: delete this installation and create "
                        "one for the other module",
                    }
                ]
            }
        ),
    ]
    """The module to install (its moduleId). Immutable."""
    version: VersionConstraint = "*"
    """Which versions to accept; the highest Available match is installed (e.g. ^2.1)."""
    isolation: Isolation | None = None
    """How the module is sandboxed: none, process, container or wasm. The operator's
    default (sandbox.default_isolation) when unset."""
    runtime_class_name: Name | None = None
    """A RuntimeClass for isolation container (e.g. gvisor, kata)."""
    configuration: (
        Annotated[
            dict[str, object],
            Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}),
        ]
        | None
    ) = None
    """Settings for the module; must satisfy the module's configSchema."""
    configuration_secret_ref: SecretReference | None = None
    """A Secret with secret configuration values."""
    auto_activate: bool = True
    """Activate the module as soon as it is healthy."""
    approved_permissions: Annotated[
        list[Permission], Field(max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Permissions the tenant grants; every permission the module declares must be here."""
    resources: ResourceRequirements | None = None
    """Overrides of the module's CPU and memory requests and limits."""
    update: UpdatePolicy | None = None
    """How updates roll out."""
    uninstall: UninstallPolicy | None = None
    """What happens on delete."""
    suspend: bool = False
    """Pause reconciliation: nothing is changed until this is false again."""
    dry_run: bool = False
    """Only preview: resolve the module and its dependencies and show the plan in
    status.plan; nothing is installed until this is false."""


class PlannedStep(ApiModel):
    """One module of a dry run's plan."""

    module_id: ModuleId
    """The module."""
    version: Annotated[str, Field(max_length=64)]
    """The version the resolver chose."""
    installation: Name
    """The ModuleInstallation that would provide it."""
    action: Literal["install", "keep"]
    """install: created (or updated) by the plan; keep: already there."""


class ResolvedDependency(ApiModel):
    """A module installed (or kept) because this one needs it."""

    module_id: ModuleId
    """The dependency."""
    version: Annotated[str, Field(max_length=64)]
    """The version chosen."""
    installation: Name | None = None
    """The ModuleInstallation that provides it in this namespace."""


class WorkflowProgress(ApiModel):
    """The lifecycle workflow in flight."""

    id: Annotated[str, Field(max_length=512)]
    """The Temporal workflow id."""
    step: Annotated[str, Field(max_length=128)] = ""
    """The step it is at, e.g. provision."""
    progress: Annotated[int, Field(ge=0, le=100)] = 0
    """Percent done."""


class Revision(ApiModel):
    """One installed revision, kept for rollback."""

    revision: Annotated[int, Field(ge=1)]
    """Increasing number of the revision."""
    version: Annotated[str, Field(max_length=64)]
    """The module version it ran."""
    configuration_hash: Annotated[str, Field(max_length=64)] = ""
    """SHA-256 of the configuration it ran with."""
    applied_at: datetime
    """When it became active."""


class Endpoint(ApiModel):
    """Where the module can be reached."""

    name: Annotated[str, Field(max_length=63)]
    """What it serves, e.g. api."""
    url: Annotated[str, Field(max_length=2048)]
    """How to reach it from inside the cluster."""


class FailureCounters(ApiModel):
    """How often the lifecycle failed."""

    consecutive: Annotated[int, Field(ge=0)] = 0
    """Failures since the last success."""
    total: Annotated[int, Field(ge=0)] = 0
    """Failures in all."""
    last_workflow: Annotated[str, Field(max_length=512)] | None = None
    """The lifecycle workflow whose outcome was counted last (a report retried after a crash
    counts its outcome once)."""


class ModuleInstallationStatus(ObjectStatus):
    """Where the installation stands."""

    phase: Phase | None = None
    """Pending, Resolving, AwaitingApproval, AwaitingPurchase, Scanning, Installing, Active,
    Inactive, Updating, RollingBack, Failed or Uninstalling."""
    resolved_version: Annotated[str, Field(max_length=64)] | None = None
    """The version chosen for the current spec."""
    installed_version: Annotated[str, Field(max_length=64)] | None = None
    """The version that runs."""
    isolation: Isolation | None = None
    """The isolation in effect (the spec's, or the operator's default)."""
    resolved_dependencies: Annotated[list[ResolvedDependency], Field(max_length=64)] = []
    """The dependencies chosen, in install order."""
    workflow: WorkflowProgress | None = None
    """The lifecycle workflow in flight, with its step and progress."""
    history: Annotated[list[Revision], Field(max_length=20)] = []
    """Recent revisions, newest last, for rollback."""
    endpoints: Annotated[list[Endpoint], Field(max_length=16)] = []
    """Where the module can be reached."""
    failures: FailureCounters | None = None
    """How often the lifecycle failed."""
    plan: Annotated[list[PlannedStep], Field(max_length=64)] = []
    """With spec.dryRun: what installing would do, dependencies first."""


INSTALLATION = KindInfo(
    kind="ModuleInstallation",
    plural="moduleinstallations",
    singular="moduleinstallation",
    short_names=("mi",),
    scope="Namespaced",
    spec=ModuleInstallationSpec,
    status=ModuleInstallationStatus,
    description="A tenant's installation of a module; the namespace is the tenant.",
    extra={
        "x-kubernetes-validations": [
            {
                "rule": "self.metadata.name.size() <= 48",
                "message": "metadata.name must be at most 48 characters: the module's "
                "Deployment, Service and NetworkPolicy are named after it",
            }
        ]
    },
    columns=(
        PrinterColumn("Module", ".spec.module"),
        PrinterColumn("Installed", ".status.installedVersion", description="Version running"),
        PrinterColumn("Isolation", ".status.isolation"),
        PrinterColumn("Phase", ".status.phase"),
        ready_column(),
        PrinterColumn("Wanted", ".spec.version", priority=1, description="Version constraint"),
        PrinterColumn("Step", ".status.workflow.step", priority=1),
        age_column(),
    ),
)
