"""From published Modules to the resolver's catalog. Pure.

Why it exists: the operator (from Module objects), the lifecycle workflow and the author CLI
(from manifest files) all resolve against the same catalog; this turns a module version's spec
into a candidate once, parsing its version and constraints up front.
"""

from __future__ import annotations

from collections.abc import Iterable

from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.resolver.constraints import parse_constraint, parse_version
from adx_modules.catalog.resolver.model import Candidate, Catalog, Requirement


def candidate_of(spec: ModuleSpec) -> Candidate:
    """The candidate a published module version offers."""
    platform = spec.compatibility.platform_version if spec.compatibility else None
    return Candidate(
        module_id=spec.module_id,
        version=parse_version(spec.version),
        text=spec.version,
        dependencies=tuple(
            Requirement(d.module_id, parse_constraint(d.version), d.optional)
            for d in spec.dependencies
        ),
        platform=parse_constraint(platform) if platform and platform.strip() != "*" else None,
    )


def catalog_of(specs: Iterable[ModuleSpec]) -> Catalog:
    """The catalog of these module versions (the first of a duplicated version wins)."""
    seen: set[tuple[str, str]] = set()
    candidates = []
    for spec in specs:
        key = (spec.module_id, spec.version)
        if key not in seen:
            seen.add(key)
            candidates.append(candidate_of(spec))
    return Catalog.of(candidates)
