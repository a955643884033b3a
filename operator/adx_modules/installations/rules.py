"""What the operator checks about a ModuleInstallation beyond the CRD schema. Pure, no I/O.

Why it exists: whether an installation can go ahead depends on other objects (does the module
exist, which versions are Available, what schema does the chosen version declare); the
handler (at once) and the resolve activity (when the workflow starts) ask the same question
here and get the same verdict, with a stable reason and a message that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.catalog.configuration import configuration_problems, secret_keys
from adx_modules.catalog.model import Catalog, CatalogEntry, describe_validation_error
from adx_modules.catalog.resolver.constraints import ConstraintError, parse_constraint
from adx_modules.catalog.rules import Verdict


@dataclass(frozen=True)
class InstallationVerdict(Verdict):
    """The verdict on an installation, with what was resolved when it is accepted."""

    resolved: CatalogEntry | None = None
    isolation: str | None = None
    missing_permissions: tuple[str, ...] = field(default=())


def _available_list(catalog: Catalog, module_id: str) -> str:
    """The Available versions, and the others with their phase (``1.0.0 Rejected``, ``1.1.0
    Scanning``): why a version that exists cannot be chosen."""
    versions = [e.version for e in catalog.available(module_id)]
    others = [
        f"{e.version} {e.phase or 'Pending'}"
        for e in catalog.versions(module_id)
        if not e.available and e.spec is not None
    ]
    listed = ", ".join(versions) if versions else "none"
    return f"{listed}; not installable: {', '.join(others)}" if others else listed


def check_installation(
    raw_spec: Mapping[str, Any],
    catalog: Catalog,
    *,
    default_isolation: str,
    enable_wasm: bool,
    enable_containers: bool,
    trusted: frozenset[str] = frozenset(),
) -> InstallationVerdict:
    """Can this installation go ahead: module, version, isolation, configuration?"""
    try:
        spec = ModuleInstallationSpec.model_validate(raw_spec)
    except ValidationError as error:
        return InstallationVerdict(False, r.INVALID_SPEC, describe_validation_error(error, "spec"))
    try:
        constraint = parse_constraint(spec.version)
    except ConstraintError as error:
        return InstallationVerdict(False, r.INVALID_CONSTRAINT, f"spec.version: {error}")
    if not catalog.knows(spec.module):
        return InstallationVerdict(
            False, r.MODULE_NOT_FOUND, f"spec.module: no Module with moduleId {spec.module} exists"
        )
    chosen = catalog.best_match(spec.module, constraint)
    if chosen is None or chosen.spec is None:
        return InstallationVerdict(
            False,
            r.NO_MATCHING_VERSION,
            f"spec.version: no Available version of {spec.module} matches {spec.version!r} "
            f"(Available: {_available_list(catalog, spec.module)})",
        )
    module = chosen.spec
    wasm_module = module.runtime == "wasm"
    isolation = spec.isolation or ("wasm" if wasm_module else default_isolation)
    if (isolation == "wasm") != wasm_module:
        return InstallationVerdict(
            False,
            r.INVALID_SPEC,
            f"spec.isolation: {isolation} does not fit {spec.module} {chosen.version}, whose "
            f"runtime is {module.runtime} (wasm modules run with isolation wasm, others without)",
        )
    if (isolation == "wasm" and not enable_wasm) or (
        isolation == "container" and not enable_containers
    ):
        return InstallationVerdict(
            False,
            r.ISOLATION_DISABLED,
            f"spec.isolation: {isolation} is disabled on this platform "
            "(settings sandbox.enable_wasm / sandbox.enable_containers)",
        )
    if isolation == "none" and module.module_id not in trusted:
        return InstallationVerdict(
            False,
            r.MODULE_NOT_TRUSTED,
            f"spec.isolation: none runs a module unconfined, in the module runner's own process; "
            f"the platform allows that only for the modules sandbox.trusted_modules lists, and "
            f"{module.module_id} is not one of them (isolation process runs it confined)",
        )
    problems = configuration_problems(module.config_schema, spec.configuration)
    inlined = sorted(secret_keys(module.config_schema) & set(spec.configuration or {}))
    problems += [
        f"spec.configuration.{key}: a secret value (writeOnly in the module's configSchema) "
        "belongs in the Secret named by spec.configurationSecretRef, not in the spec"
        for key in inlined
    ]
    if problems:
        return InstallationVerdict(False, r.INVALID_CONFIGURATION, "; ".join(problems))
    missing = tuple(sorted(set(module.permissions) - set(spec.approved_permissions)))
    return InstallationVerdict(
        True,
        r.RESOLVED_REASON,
        f"{spec.module} {chosen.version} (Module {chosen.name}) satisfies {spec.version!r}",
        resolved=chosen,
        isolation=isolation,
        missing_permissions=missing,
    )
