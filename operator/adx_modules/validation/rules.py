"""What the operator checks beyond the CRD schema and CEL, per kind. Pure, no I/O.

Why it exists: some rules need other objects (does the module exist, which versions are
Available, what schema does the chosen version declare) or a real parser (JSON Schema, version
constraints). Each check returns a verdict with a stable reason and a message that names the
offending field, which the handlers turn into conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from adx_modules.api import conditions as c
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.listing import MarketplaceListingSpec
from adx_modules.provisioning.container import secret_keys
from adx_modules.resolver.constraints import ConstraintError, parse_constraint
from adx_modules.validation.catalog import Catalog, CatalogEntry, describe_validation_error
from adx_modules.validation.configuration import configuration_problems, schema_problems


@dataclass(frozen=True)
class Verdict:
    """Accepted or not, why (a condition reason) and how to fix it (a message)."""

    ok: bool
    reason: str
    message: str


def check_module(entry: CatalogEntry, catalog: Catalog) -> Verdict:
    """Is this Module version publishable? (Scanning comes on top, later.)"""
    if entry.spec is None:
        return Verdict(False, c.INVALID_SPEC, entry.spec_error or "spec is invalid")
    spec = entry.spec
    problems = schema_problems(spec.config_schema)
    if problems:
        return Verdict(False, c.INVALID_CONFIG_SCHEMA, "; ".join(problems))
    for dependency in spec.dependencies:
        try:
            parse_constraint(dependency.version)
        except ConstraintError as error:
            where = f"spec.dependencies[moduleId={dependency.module_id}].version"
            return Verdict(False, c.INVALID_CONSTRAINT, f"{where}: {error}")
    if spec.compatibility:
        try:
            parse_constraint(spec.compatibility.platform_version)
        except ConstraintError as error:
            where = "spec.compatibility.platformVersion"
            return Verdict(False, c.INVALID_CONSTRAINT, f"{where}: {error}")
    first = catalog.first_published(spec.module_id, spec.version)
    if first is not None and first.name != entry.name:
        return Verdict(
            False,
            c.DUPLICATE_VERSION,
            f"{spec.module_id} {spec.version} is already published as Module {first.name}; "
            "a version is published once",
        )
    return Verdict(
        True, c.AVAILABLE, f"{spec.module_id} {spec.version} is available for installation"
    )


@dataclass(frozen=True)
class InstallationVerdict(Verdict):
    """The verdict on an installation, with what was resolved when it is accepted."""

    resolved: CatalogEntry | None = None
    isolation: str | None = None
    missing_permissions: tuple[str, ...] = field(default=())


def _available_list(catalog: Catalog, module_id: str) -> str:
    versions = [e.version for e in catalog.available(module_id)]
    return ", ".join(versions) if versions else "none"


def check_installation(
    raw_spec: Mapping[str, Any],
    catalog: Catalog,
    *,
    default_isolation: str,
    enable_wasm: bool,
    enable_containers: bool,
) -> InstallationVerdict:
    """Can this installation go ahead: module, version, isolation, configuration?"""
    try:
        spec = ModuleInstallationSpec.model_validate(raw_spec)
    except ValidationError as error:
        return InstallationVerdict(False, c.INVALID_SPEC, describe_validation_error(error, "spec"))
    try:
        constraint = parse_constraint(spec.version)
    except ConstraintError as error:
        return InstallationVerdict(False, c.INVALID_CONSTRAINT, f"spec.version: {error}")
    if not catalog.knows(spec.module):
        return InstallationVerdict(
            False, c.MODULE_NOT_FOUND, f"spec.module: no Module with moduleId {spec.module} exists"
        )
    chosen = catalog.best_match(spec.module, constraint)
    if chosen is None or chosen.spec is None:
        return InstallationVerdict(
            False,
            c.NO_MATCHING_VERSION,
            f"spec.version: no Available version of {spec.module} matches {spec.version!r} "
            f"(Available: {_available_list(catalog, spec.module)})",
        )
    module = chosen.spec
    wasm_module = module.runtime == "wasm"
    isolation = spec.isolation or ("wasm" if wasm_module else default_isolation)
    if (isolation == "wasm") != wasm_module:
        return InstallationVerdict(
            False,
            c.INVALID_SPEC,
            f"spec.isolation: {isolation} does not fit {spec.module} {chosen.version}, whose "
            f"runtime is {module.runtime} (wasm modules run with isolation wasm, others without)",
        )
    if (isolation == "wasm" and not enable_wasm) or (
        isolation == "container" and not enable_containers
    ):
        return InstallationVerdict(
            False,
            c.ISOLATION_DISABLED,
            f"spec.isolation: {isolation} is disabled on this platform "
            "(settings sandbox.enable_wasm / sandbox.enable_containers)",
        )
    problems = configuration_problems(module.config_schema, spec.configuration)
    inlined = sorted(secret_keys(module.config_schema) & set(spec.configuration or {}))
    problems += [
        f"spec.configuration.{key}: a secret value (writeOnly in the module's configSchema) "
        "belongs in the Secret named by spec.configurationSecretRef, not in the spec"
        for key in inlined
    ]
    if problems:
        return InstallationVerdict(False, c.INVALID_CONFIGURATION, "; ".join(problems))
    missing = tuple(sorted(set(module.permissions) - set(spec.approved_permissions)))
    return InstallationVerdict(
        True,
        c.RESOLVED_REASON,
        f"{spec.module} {chosen.version} (Module {chosen.name}) satisfies {spec.version!r}",
        resolved=chosen,
        isolation=isolation,
        missing_permissions=missing,
    )


@dataclass(frozen=True)
class ListingVerdict(Verdict):
    """The verdict on a listing, with the module's latest Available version."""

    latest_version: str | None = None


def check_listing(raw_spec: Mapping[str, Any], catalog: Catalog) -> ListingVerdict:
    """Is the listed module published, and what is its latest Available version?"""
    try:
        spec = MarketplaceListingSpec.model_validate(raw_spec)
    except ValidationError as error:
        return ListingVerdict(False, c.INVALID_SPEC, describe_validation_error(error, "spec"))
    if not catalog.knows(spec.module):
        return ListingVerdict(
            False,
            c.MODULE_NOT_FOUND,
            f"spec.module: no Module with moduleId {spec.module} exists; publish one first",
        )
    available = catalog.available(spec.module)
    if not available:
        return ListingVerdict(
            False,
            c.NO_MATCHING_VERSION,
            f"{spec.module} has no Available version yet",
        )
    latest = available[0]
    return ListingVerdict(
        True,
        c.LINKED,
        f"lists {spec.module}, latest Available version {latest.version}",
        latest_version=latest.version,
    )
