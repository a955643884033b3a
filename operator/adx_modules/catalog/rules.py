"""What the operator checks about a Module beyond the CRD schema and CEL. Pure, no I/O.

Why it exists: some rules need a real parser (JSON Schema, version constraints) or other
Modules (is this version published twice). A check returns a verdict with a stable reason and
a message that names the offending field, which the handlers turn into conditions. The verdict
type is shared by every kind's checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from adx_modules.api import reasons as r
from adx_modules.catalog.configuration import schema_problems
from adx_modules.catalog.model import Catalog, CatalogEntry
from adx_modules.catalog.resolver.constraints import ConstraintError, parse_constraint


@dataclass(frozen=True)
class Verdict:
    """Accepted or not, why (a condition reason) and how to fix it (a message)."""

    ok: bool
    reason: str
    message: str


def check_module(entry: CatalogEntry, catalog: Catalog) -> Verdict:
    """Is this Module version publishable? (Scanning comes on top, later.)"""
    if entry.spec is None:
        return Verdict(False, r.INVALID_SPEC, entry.spec_error or "spec is invalid")
    spec = entry.spec
    problems = schema_problems(spec.config_schema)
    if problems:
        return Verdict(False, r.INVALID_CONFIG_SCHEMA, "; ".join(problems))
    for dependency in spec.dependencies:
        try:
            parse_constraint(dependency.version)
        except ConstraintError as error:
            where = f"spec.dependencies[moduleId={dependency.module_id}].version"
            return Verdict(False, r.INVALID_CONSTRAINT, f"{where}: {error}")
    if spec.compatibility:
        try:
            parse_constraint(spec.compatibility.platform_version)
        except ConstraintError as error:
            where = "spec.compatibility.platformVersion"
            return Verdict(False, r.INVALID_CONSTRAINT, f"{where}: {error}")
    first = catalog.first_published(spec.module_id, spec.version)
    if first is not None and first.name != entry.name:
        return Verdict(
            False,
            r.DUPLICATE_VERSION,
            f"{spec.module_id} {spec.version} is already published as Module {first.name}; "
            "a version is published once",
        )
    return Verdict(
        True, r.AVAILABLE, f"{spec.module_id} {spec.version} is available for installation"
    )
