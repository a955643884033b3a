"""The ``Module`` kind: one published version of a module, cluster-wide and immutable.

Why it exists: a module version is what tenants install, what the scanner scores and what the
resolver chooses from. One object per version (named e.g. ``analytics-2-1-0``) makes the
catalog a plain ``kubectl get modules`` and lets GitOps publish versions as files.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from adx_modules.api.meta import (
    KindInfo,
    ObjectStatus,
    PrinterColumn,
    age_column,
    ready_column,
)
from adx_modules.api.types import (
    ApiModel,
    Keyword,
    ModuleId,
    Name,
    Permission,
    ResourceRequirements,
    SemVer,
    ShortText,
    Url,
    VersionConstraint,
    rule,
)

Runtime = Literal["python", "javascript", "wasm", "container"]

IMAGE_REFERENCE = (
    r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)
ImageReference = Annotated[
    str,
    rule(
        IMAGE_REFERENCE,
        "must be an OCI image reference, e.g. registry.example.com/team/module:1.2.0 "
        "(optionally @sha256:<digest>)",
        max_length=512,
    ),
]
TableName = Annotated[
    str,
    rule(r"^[a-z_][a-z0-9_]*$", "must be a SQL table name: a-z, 0-9 and '_'", max_length=63),
]
Sha256 = Annotated[str, rule(r"^[a-f0-9]{64}$", "must be 64 lowercase hex digits", max_length=64)]


def _exactly_one(*fields: str) -> JsonDict:
    present = ", ".join(f"has(self.{name})" for name in fields)
    return {
        "rule": f"[{present}].filter(x, x).size() == 1",
        "message": f"exactly one of {', '.join(fields)} must be set",
    }


class ImageArtifact(ApiModel):
    """A container image that runs the module."""

    reference: ImageReference
    """The image, e.g. registry.example.com/acme/analytics:2.1.0 (a digest pins it)."""
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """When the node pulls the image; the Kubernetes default when unset."""


class ConfigMapKeyRef(ApiModel):
    """A key of a ConfigMap."""

    name: Name
    """The ConfigMap."""
    namespace: Name
    """Its namespace (a Module is cluster-scoped, so the namespace is explicit)."""
    key: Annotated[str, rule(r"^[-._a-zA-Z0-9]+$", "must be a ConfigMap key", max_length=253)]
    """The key that holds the .wasm binary (binaryData)."""


class WasmArtifact(ApiModel):
    """A WebAssembly binary; exactly one source."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [_exactly_one("url", "configMapRef", "oci")]}
    )

    url: Url | None = None
    """Where to download the .wasm file."""
    config_map_ref: ConfigMapKeyRef | None = None
    """A ConfigMap key that holds it."""
    oci: ImageReference | None = None
    """An OCI artifact that holds it."""
    sha256: Sha256 | None = None
    """The expected SHA-256 of the binary; a mismatch refuses it."""


class PackageArtifact(ApiModel):
    """An ``.adx`` package run by the python or javascript runner; exactly one source."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [_exactly_one("url", "oci")]}
    )

    url: Url | None = None
    """Where to download the package."""
    oci: ImageReference | None = None
    """An OCI artifact that holds it (what ``adx-module-cli publish`` pushes), by digest."""
    sha256: Sha256 | None = None
    """The expected SHA-256 of the package; a mismatch refuses it."""


class Artifact(ApiModel):
    """What runs: exactly one of image, wasm, package."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [_exactly_one("image", "wasm", "package")]}
    )

    image: ImageArtifact | None = None
    """A container image (runtime container, or a runner image for python/javascript)."""
    wasm: WasmArtifact | None = None
    """A WebAssembly module (runtime wasm)."""
    package: PackageArtifact | None = None
    """An .adx package for the language runners (runtime python or javascript)."""


class Dependency(ApiModel):
    """Another module this one needs."""

    module_id: ModuleId
    """The module needed."""
    version: VersionConstraint = "*"
    """Which versions will do, e.g. ^2.0, >=1.4, <2.0, ~1.2.3, 1.x."""
    optional: bool = False
    """Install only if it can be satisfied; never fail because of it."""


JsonSchema = Annotated[
    dict[str, object], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
]
"""A JSON Schema (draft 2020-12), kept as written."""


class UiExtension(ApiModel):
    """A place in the platform's UI the module fills: a page or a widget."""

    slot: Name
    """The UI slot, e.g. dashboard-widget."""
    entry: Annotated[str, Field(min_length=1, max_length=512)]
    """The module's entry point for that slot (a path or component name)."""
    name: Name | None = None
    """The element's name, unique within the module (the platform's menus and settings)."""
    type: Literal["page", "widget"] | None = None
    """A page (a route of its own in the platform) or a widget (inside a platform page)."""
    props: JsonSchema | None = None
    """The properties the platform passes the element, as a JSON Schema."""
    permissions: Annotated[
        list[Permission], Field(max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """The module's permissions the element uses (each among spec.permissions): the platform
    shows it only where the tenant approved them all."""


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ApiExtension(ApiModel):
    """An HTTP API the module serves; gets a Service."""

    path: Annotated[
        str, rule(r"^/[A-Za-z0-9/_.-]*$", "must be an absolute URL path", max_length=256)
    ]
    """Path prefix under which the platform routes to the module."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    """The container port that serves it."""
    methods: Annotated[
        list[HttpMethod], Field(max_length=7, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """The HTTP methods it answers (empty: not declared)."""


class WorkflowDefinition(ApiModel):
    """A workflow the module contributes: each run is a Temporal workflow whose step calls the
    module, within this timeout and retry policy."""

    name: Name
    """The workflow's name (one of extensionPoints.workflows; workflow:execute:<name> starts it)."""
    timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 300
    """Longest one attempt of the step may take."""
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    """Attempts before the run fails."""
    input_schema: JsonSchema | None = None
    """What a run's input must satisfy (JSON Schema): checked when it is started."""
    output_schema: JsonSchema | None = None
    """What the step's result must satisfy: a result that does not fails the attempt."""


class Migration(ApiModel):
    """One SQL migration of the module's own database schema (``migrations/NNN_name.sql`` in
    its package), applied in version order, once, before the version that ships it runs."""

    version: Annotated[int, Field(ge=1, le=9999)]
    """Its number (the file name's NNN); ascending, never reused."""
    name: Annotated[
        str,
        rule(
            r"^[0-9]{3,4}_[a-z0-9_]{1,64}\.sql$",
            "must be a migration file name NNN_name.sql (lowercase, digits, _)",
            max_length=80,
        ),
    ]
    """The file, under migrations/ in the package."""
    sha256: Annotated[
        str, rule(r"^[0-9a-f]{64}$", "must be a SHA-256 in lowercase hex", max_length=64)
    ]
    """Its content's digest: a migration applied once may never change."""


class ExtensionPoints(ApiModel):
    """How the module plugs into the platform."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.workflowDefinitions) || self.workflowDefinitions.all("
                    "d, has(self.workflows) && d.name in self.workflows)",
                    "message": "every workflowDefinitions entry names one of workflows",
                    "fieldPath": ".workflowDefinitions",
                },
            ]
        }
    )

    ui: Annotated[list[UiExtension], Field(max_length=16)] = []
    """UI pages and widgets the module fills."""
    api: Annotated[list[ApiExtension], Field(max_length=32)] = []
    """HTTP APIs the module serves."""
    workflows: Annotated[list[Name], Field(max_length=32)] = []
    """Workflows the module contributes to the platform."""
    workflow_definitions: Annotated[list[WorkflowDefinition], Field(max_length=32)] = []
    """Each workflow's timeout, retry policy and input and output schemas."""
    database: Annotated[list[TableName], Field(max_length=32)] = []
    """Tables the module owns in its tenant's database."""
    migrations: Annotated[
        list[Migration],
        Field(
            max_length=64,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["version"],
            },
        ),
    ] = []
    """The SQL migrations of the module's own schema (a schema and a database role of each
    installation's own), in version order."""


class Compatibility(ApiModel):
    """Which platforms the module runs on."""

    platform_version: VersionConstraint = "*"
    """The platform versions supported, e.g. >=2.3, <3.0."""


class ModuleSpec(ApiModel):
    """One version of a module, as published. Immutable: publish a change as a new version."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "spec is immutable once published: publish a new version as a "
                    "new Module",
                },
                {
                    "rule": "(self.runtime == 'wasm') == has(self.artifact.wasm)",
                    "message": "runtime wasm takes artifact.wasm, and artifact.wasm needs "
                    "runtime wasm",
                    "fieldPath": ".runtime",
                },
                {
                    "rule": "self.runtime != 'container' || has(self.artifact.image)",
                    "message": "runtime container needs artifact.image",
                    "fieldPath": ".runtime",
                },
                {
                    "rule": "!has(self.artifact.package) || "
                    "self.runtime in ['python', 'javascript']",
                    "message": "artifact.package needs runtime python or javascript",
                    "fieldPath": ".runtime",
                },
                {
                    "rule": "!has(self.extensionPoints) || !has(self.extensionPoints.ui) || "
                    "self.extensionPoints.ui.all(u, !has(u.permissions) || "
                    "u.permissions.all(p, has(self.permissions) && p in self.permissions))",
                    "message": "a UI element's permissions must be among spec.permissions",
                    "fieldPath": ".extensionPoints.ui",
                },
                {
                    "rule": "!has(self.dependencies) || "
                    "self.dependencies.all(d, d.moduleId != self.moduleId)",
                    "message": "a module cannot depend on itself",
                    "fieldPath": ".dependencies",
                },
            ]
        }
    )

    module_id: ModuleId
    """The module's identity, shared by all its versions (e.g. analytics-dashboard)."""
    version: SemVer
    """This version (semantic versioning, e.g. 2.1.0 or 2.2.0-rc.1)."""
    display_name: ShortText
    """The name people see."""
    description: Annotated[str, Field(max_length=4096)] = ""
    """What the module does."""
    author: Annotated[str, Field(min_length=1, max_length=256)]
    """Who publishes it (person or organisation, optionally with an e-mail address)."""
    license: Annotated[str, Field(max_length=64)] = ""
    """An SPDX license identifier, e.g. Apache-2.0."""
    homepage: Url | None = None
    """Where to learn more."""
    categories: Annotated[
        list[Keyword], Field(max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Marketplace categories, e.g. analytics, security."""
    keywords: Annotated[
        list[Keyword], Field(max_length=20, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Search keywords."""
    runtime: Runtime
    """What runs it: python, javascript (language runners), wasm, container."""
    artifact: Artifact
    """What runs: exactly one of image, wasm, package."""
    dependencies: Annotated[
        list[Dependency],
        Field(
            max_length=32,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["moduleId"],
            },
        ),
    ] = []
    """Other modules this one needs, each at most once, with a version constraint."""
    permissions: Annotated[
        list[Permission], Field(max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """What the module may do, as <resource>:<action>:<target> (database:read:user_data,
    network:access:api.example.com, ...). A tenant must approve each before install."""
    resources: ResourceRequirements | None = None
    """CPU and memory the module needs (requests) and may use (limits)."""
    config_schema: JsonSchema | None = None
    """A JSON Schema (draft 2020-12) that every installation's configuration must satisfy."""
    extension_points: ExtensionPoints | None = None
    """How the module plugs into the platform: ui, api, workflows, database."""
    compatibility: Compatibility | None = None
    """The platform versions the module supports."""


class Findings(ApiModel):
    """Security findings by severity."""

    critical: Annotated[int, Field(ge=0)] = 0
    """Critical findings."""
    high: Annotated[int, Field(ge=0)] = 0
    """High-severity findings."""
    medium: Annotated[int, Field(ge=0)] = 0
    """Medium-severity findings."""
    low: Annotated[int, Field(ge=0)] = 0
    """Low-severity findings."""


class ModuleStatus(ObjectStatus):
    """What the operator found out about this version."""

    phase: Literal["Pending", "Scanning", "Available", "Rejected"] | None = None
    """Pending, Scanning, Available (installable) or Rejected (see the conditions)."""
    security_score: Annotated[int, Field(ge=0, le=100)] | None = None
    """0-100 from the last scan; installs need at least the configured minimum."""
    findings: Findings | None = None
    """Counts of the last scan's findings by severity."""
    digest: Annotated[str, Field(max_length=128)] | None = None
    """The artifact's digest as scanned."""
    scanned_reference: Annotated[str, Field(max_length=1024)] | None = None
    """The artifact as scanned, pinned by digest: what installations run."""
    database_version: Annotated[str, Field(max_length=128)] | None = None
    """The vulnerability database the score was computed with (a new one rescans)."""
    scanned_at: Annotated[str, Field(max_length=32)] | None = None
    """When the verdict was reached (RFC 3339)."""


MODULE = KindInfo(
    kind="Module",
    plural="modules",
    singular="module",
    short_names=("mod",),
    scope="Cluster",
    spec=ModuleSpec,
    status=ModuleStatus,
    description="One published version of a pluggable module: what tenants install.",
    columns=(
        PrinterColumn("Module", ".spec.moduleId"),
        PrinterColumn("Version", ".spec.version"),
        PrinterColumn("Runtime", ".spec.runtime"),
        PrinterColumn(
            "Score", ".status.securityScore", type="integer", description="Security score 0-100"
        ),
        ready_column(),
        PrinterColumn("Phase", ".status.phase", priority=1),
        age_column(),
    ),
)
