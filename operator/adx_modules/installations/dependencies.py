"""Dependencies within a tenant: what to install, who requires whom, what an update would break.

Why it exists: the lifecycle needs three answers about the installations of one namespace, and
they must agree: the plan for a new installation (the resolver over the Available Modules, with
what the tenant has installed kept at its version), the dependents of an installation (who would
break if it went), and the dependents an update would break. The installations' own statuses
(``resolvedDependencies``) record who requires whom, so nothing else needs keeping. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adx_modules.catalog.model import Catalog
from adx_modules.catalog.resolver.catalog import catalog_of
from adx_modules.catalog.resolver.constraints import parse_constraint, parse_version
from adx_modules.catalog.resolver.engine import resolve
from adx_modules.catalog.resolver.model import Requirement
from adx_modules.installations.contract import PlannedDependency

DEPENDENCY_LABEL = "modules.adxcore.com/installed-as-dependency"
MAX_NAME = 48


def _live(installations: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [i for i in installations if not i.get("metadata", {}).get("deletionTimestamp")]


def _name(installation: Mapping[str, Any]) -> str:
    return str(installation.get("metadata", {}).get("name", ""))


def _module(installation: Mapping[str, Any]) -> str:
    return str((installation.get("spec") or {}).get("module", ""))


def _installed_version(installation: Mapping[str, Any]) -> str | None:
    version = (installation.get("status") or {}).get("installedVersion")
    return str(version) if version else None


def _requires(installation: Mapping[str, Any]) -> set[str]:
    resolved = (installation.get("status") or {}).get("resolvedDependencies") or []
    return {str(entry.get("installation")) for entry in resolved if entry.get("installation")}


def dependents_of(name: str, installations: Sequence[Mapping[str, Any]]) -> list[str]:
    """The live installations that were resolved against ``name``."""
    return sorted(
        _name(i) for i in _live(installations) if name in _requires(i) and _name(i) != name
    )


def installation_name(module_id: str, taken: set[str]) -> str:
    """A name for a dependency's installation: the module id (shortened if need be)."""
    if len(module_id) <= MAX_NAME and module_id not in taken:
        return module_id
    digest = hashlib.sha256(module_id.encode()).hexdigest()[:6]
    return f"{module_id[: MAX_NAME - 7].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class DependencyPlan:
    """The requested module's version and what it needs, dependencies first."""

    version: str
    dependencies: list[PlannedDependency]


def plan(
    name: str,
    module_id: str,
    constraint: str,
    catalog: Catalog,
    installations: Sequence[Mapping[str, Any]],
    *,
    platform: str | None = None,
) -> DependencyPlan:
    """Resolve installation ``name`` of ``module_id`` at ``constraint``; raises the resolver's
    errors (explained). Installed modules keep their versions; an existing installation of a
    needed module provides it (the plan waits for it), anything else is created."""
    others = [i for i in _live(installations) if _name(i) != name]
    installed = {_module(i): v for i in others if (v := _installed_version(i))}
    providers = {_module(i): _name(i) for i in others}
    specs = [entry.spec for entry in catalog.all_available() if entry.spec is not None]
    resolver_catalog = catalog_of(specs)
    answer = resolve(
        resolver_catalog,
        Requirement(module_id, parse_constraint(constraint)),
        installed=installed,
        platform=platform,
    )
    by_key = {(s.module_id, s.version): s for s in specs}
    levels: dict[str, int] = {}
    taken = {_name(i) for i in installations} | {name}
    planned: list[PlannedDependency] = []
    for pin in answer.order:
        spec = by_key.get((pin.module_id, pin.version))
        needs = [d.module_id for d in spec.dependencies] if spec else []
        levels[pin.module_id] = 1 + max((levels.get(n, 0) for n in needs), default=0)
        if pin.module_id == module_id:
            continue
        provider = providers.get(pin.module_id)
        if provider is None:
            provider = installation_name(pin.module_id, taken)
            taken.add(provider)
        planned.append(
            PlannedDependency(
                module_id=pin.module_id,
                version=pin.version,
                installation=provider,
                create=pin.module_id not in providers,
                level=levels[pin.module_id],
                permissions=list(spec.permissions) if spec else [],
            )
        )
    version = next(p.version for p in answer.order if p.module_id == module_id)
    return DependencyPlan(version, planned)


def broken_dependents(
    name: str,
    module_id: str,
    new_version: str,
    catalog: Catalog,
    installations: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Why installing ``new_version`` in ``name`` would break its dependents (empty: it
    would not), e.g. ``analytics 2.1.0 (installation analytics) requires charts >=3.0, <4``."""
    version = parse_version(new_version)
    problems = []
    for dependent in _live(installations):
        if name not in _requires(dependent):
            continue
        running = _installed_version(dependent)
        entry = catalog.entry(_module(dependent), running) if running else None
        if entry is None or entry.spec is None:
            continue
        for requirement in entry.spec.dependencies:
            constraint = parse_constraint(requirement.version)
            if requirement.module_id == module_id and not constraint.allows(version):
                problems.append(
                    f"{entry.spec.module_id} {running} (installation {_name(dependent)}) "
                    f"requires {module_id} {requirement.version}"
                )
    return problems
