"""Dependency resolution with resolvelib (the backtracking engine behind pip). Pure, no I/O.

Why it exists: installing a module means choosing a version of it and of everything it needs,
so that every constraint holds, the platform version is supported, installed modules keep their
versions unless asked, and cycles are refused. resolvelib searches; this module tells it what
the catalog holds, prefers what the tenant already has, and turns a failure into the chain of
requirements that collide (``analytics 2.1.0 requires charts >=3.0; reports 1.4.0 (installed)
requires charts <3.0``), or the versions that exist when nothing matches.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib.resolvers.criterion import Criterion
from resolvelib.resolvers.resolution import Resolution, _build_result
from resolvelib.structs import RequirementInformation

from adx_modules.catalog.resolver.constraints import parse_version
from adx_modules.catalog.resolver.model import (
    Candidate,
    Catalog,
    DependencyCycleError,
    Pinned,
    Plan,
    Requirement,
    ResolutionError,
    TooComplexError,
)

Info = RequirementInformation[Requirement, Candidate]
DEFAULT_BUDGET_SECONDS = 5.0
DEFAULT_MAX_ROUNDS = 20_000


class _Provider(AbstractProvider[Requirement, Candidate, str]):
    def __init__(
        self,
        catalog: Catalog,
        installed: Mapping[str, Candidate],
        platform: Version | None,
        dropped: set[tuple[str, str]],
        deadline: float,
    ) -> None:
        self.catalog = catalog
        self.installed = installed
        self.platform = platform
        self.dropped = dropped  # optional (parent, dependency) pairs given up on
        self.deadline = deadline
        # constraint checks repeat thousands of times per search: remember each answer
        self._allows: dict[tuple[int, int], bool] = {}

    def allows(self, requirement: Requirement, candidate: Candidate) -> bool:
        key = (id(requirement.constraint), id(candidate))
        answer = self._allows.get(key)
        if answer is None:
            answer = self._allows[key] = requirement.constraint.allows(candidate.version)
        return answer

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Info]],
        backtrack_causes: Sequence[Info],
    ) -> Iterable[str]:
        """Work on what recently conflicted, then on installed pins, else on any one: sorting
        every open identifier each round would make large catalogs quadratic."""
        open_ids = list(identifiers)
        involved = {cause.requirement.module_id for cause in backtrack_causes}
        involved |= {
            cause.parent.module_id for cause in backtrack_causes if cause.parent is not None
        }
        for chosen in (
            [i for i in open_ids if i in involved],
            [i for i in open_ids if i in self.installed],
        ):
            if chosen:
                return chosen
        return open_ids[:1]

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.module_id

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Info]],
        backtrack_causes: Sequence[Info],
    ) -> Any:
        # pinned-by-installation first, then modules in recent conflicts, then the rest by name
        conflicted = any(cause.requirement.module_id == identifier for cause in backtrack_causes)
        return (identifier not in self.installed, not conflicted, identifier)

    def _fits_platform(self, candidate: Candidate) -> bool:
        return (
            self.platform is None
            or candidate.platform is None
            or (candidate.platform.allows(self.platform))
        )

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        if time.monotonic() > self.deadline:
            raise TooComplexError("dependency resolution went past its time budget")
        wanted = list(requirements.get(identifier, ()))
        excluded = set(incompatibilities.get(identifier, ()))
        pool = (
            [self.installed[identifier]]
            if identifier in self.installed
            else self.catalog.versions(identifier)
        )
        return [
            candidate
            for candidate in pool
            if candidate not in excluded
            and self._fits_platform(candidate)
            and all(self.allows(r, candidate) for r in wanted)
        ]

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return self.allows(requirement, candidate)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        return [
            dependency
            for dependency in candidate.dependencies
            if (candidate.module_id, dependency.module_id) not in self.dropped
        ]


class _RememberingResolution(Resolution[Requirement, Candidate, str]):
    """resolvelib re-checks every pinned criterion against its pin on every round, which makes
    a search quadratic in the number of modules pinned. Criteria are immutable (a change makes a
    new object), so the answer for a (criterion, pin) pair never changes: remember it. The
    objects are kept alive with the answer, so an id is never reused while remembered.
    (resolvelib is pinned; this overrides one private method of its Resolution.)"""

    def __init__(self, provider: _Provider, reporter: BaseReporter[Any, Any, Any]) -> None:
        super().__init__(provider, reporter)
        self._seen: dict[tuple[int, int], tuple[object, object, bool]] = {}

    def _is_current_pin_satisfying(
        self, name: str, criterion: Criterion[Requirement, Candidate]
    ) -> bool:
        pin = self.state.mapping.get(name)
        if pin is None:
            return False
        key = (id(criterion), id(pin))
        seen = self._seen.get(key)
        if seen is not None and seen[0] is criterion and seen[1] is pin:
            return seen[2]
        answer = super()._is_current_pin_satisfying(name, criterion)
        self._seen[key] = (criterion, pin, answer)
        return answer


def _describe(info: Info) -> str:
    if info.parent is None:
        return f"the request asks for {info.requirement}"
    return f"{info.parent} requires {info.requirement}"


def _explain(causes: Sequence[Info], catalog: Catalog, installed: Mapping[str, Candidate]) -> str:
    """The requirements that collide, grouped by the module they are about."""
    by_module: dict[str, list[Info]] = {}
    for cause in causes:
        by_module.setdefault(cause.requirement.module_id, []).append(cause)
    sentences = []
    for module_id, infos in by_module.items():
        unique = list(dict.fromkeys(_describe(info) for info in infos))
        versions = [c.text for c in catalog.versions(module_id)]
        if module_id in installed:
            unique.append(
                f"{installed[module_id]} is kept (ask for {module_id} itself to change its version)"
            )
            # the installed modules that hold it there
            unique += [
                f"{holder} requires {requirement}"
                for holder in installed.values()
                for requirement in holder.dependencies
                if requirement.module_id == module_id
            ]
        elif not versions:
            unique.append(f"no version of {module_id} is published")
        elif len(unique) == 1:
            unique.append(f"the versions of {module_id} are {', '.join(versions[:10])}")
        sentences.append("; ".join(unique))
    return " | ".join(sentences)


def _install_order(graph: Any, pins: Mapping[str, Candidate]) -> list[str]:
    """Dependencies before dependents (iterative depth-first: catalogs can be deep); a cycle
    is an error that names it."""
    children: dict[str, list[str]] = {key: [] for key in pins}
    for parent, child in graph.iter_edges():
        if parent in children and child in children:
            children[parent].append(child)
    order: list[str] = []
    done: set[str] = set()
    for root in sorted(pins):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending = [iter(sorted(children[root]))]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                node = path.pop()
                on_path.discard(node)
                pending.pop()
                done.add(node)
                order.append(node)
            elif child in on_path:
                cycle = [*path[path.index(child) :], child]
                raise DependencyCycleError(
                    "dependency cycle: " + " -> ".join(str(pins[n]) for n in cycle)
                )
            elif child not in done:
                path.append(child)
                on_path.add(child)
                pending.append(iter(sorted(children[child])))
    return order


def resolve(
    catalog: Catalog,
    request: Requirement,
    *,
    installed: Mapping[str, str] | None = None,
    platform: str | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    reporter: BaseReporter[Any, Any, Any] | None = None,
) -> Plan:
    """Everything ``request`` needs, in install order; raises ResolutionError (explained).
    ``reporter`` hears the search's steps (pins, conflicts, backtracking), as resolvelib tells
    them: the benchmarks count how much a catalog makes the search backtrack."""
    pins_installed = _installed_candidates(catalog, installed or {}, request.module_id)
    platform_version = parse_version(platform) if platform else None
    deadline = time.monotonic() + budget_seconds
    dropped: set[tuple[str, str]] = set()
    optional = {
        (c.module_id, d.module_id)
        for versions in catalog.modules.values()
        for c in versions
        for d in c.dependencies
        if d.optional
    }
    while True:
        provider = _Provider(catalog, pins_installed, platform_version, dropped, deadline)
        try:
            state = _RememberingResolution(provider, reporter or BaseReporter()).resolve(
                [request], max_rounds=max_rounds
            )
            result = _build_result(state)
        except ResolutionImpossible as impossible:
            causes: list[Info] = list(impossible.causes)
            give_up = {
                (cause.parent.module_id, cause.requirement.module_id)
                for cause in causes
                if cause.parent is not None and cause.requirement.optional
            } & (optional - dropped)
            if give_up:  # optional dependencies never fail a resolution: drop and retry
                dropped |= give_up
                continue
            raise ResolutionError(_explain(causes, catalog, pins_installed)) from None
        except ResolutionTooDeep:
            raise TooComplexError(
                f"dependency resolution gave up after {max_rounds} rounds; the catalog's "
                "constraints are too entangled to search"
            ) from None
        order = _install_order(result.graph, result.mapping)
        return Plan(
            tuple(
                Pinned(name, result.mapping[name].text, result.mapping[name].installed)
                for name in order
            )
        )


def _installed_candidates(
    catalog: Catalog, installed: Mapping[str, str], requested: str
) -> dict[str, Candidate]:
    """Installed modules, pinned at their versions (the requested module may change)."""
    pins: dict[str, Candidate] = {}
    for module_id, version in installed.items():
        if module_id == requested:
            continue
        known = [c for c in catalog.versions(module_id) if c.text == version]
        base = known[0] if known else Candidate(module_id, parse_version(version), version)
        pins[module_id] = Candidate(
            base.module_id, base.version, base.text, base.dependencies, base.platform, True
        )
    return pins
