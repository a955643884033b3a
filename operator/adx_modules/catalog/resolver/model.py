"""What the resolver works on: requirements, candidate versions, the catalog, the answer.

Why it exists: resolution runs on plain, pre-parsed values (versions parsed once, constraints
parsed once), built from whatever holds the catalog (Module objects, manifest files), so the
search itself never parses a string and stays fast on large catalogs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging.version import Version

from adx_modules.catalog.resolver.constraints import Constraint, parse_constraint, parse_version


@dataclass(frozen=True)
class Requirement:
    """``module_id`` at a version ``constraint`` allows; optional ones never fail a resolution."""

    module_id: str
    constraint: Constraint
    optional: bool = False

    @classmethod
    def parse(cls, module_id: str, constraint: str = "*", optional: bool = False) -> Requirement:
        return cls(module_id, parse_constraint(constraint), optional)

    def __str__(self) -> str:
        text = self.constraint.text.strip()
        return f"{self.module_id} {text}" if text and text != "*" else f"{self.module_id} (any)"


@dataclass(frozen=True, eq=False)
class Candidate:
    """One published version of a module."""

    module_id: str
    version: Version
    text: str
    dependencies: tuple[Requirement, ...] = ()
    platform: Constraint | None = None
    installed: bool = False

    def __hash__(self) -> int:
        return hash((self.module_id, self.text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and (self.module_id, self.text) == (
            other.module_id,
            other.text,
        )

    def __str__(self) -> str:
        return f"{self.module_id} {self.text}" + (" (installed)" if self.installed else "")


@dataclass
class Catalog:
    """Every candidate version by module id, highest version first."""

    modules: dict[str, list[Candidate]] = field(default_factory=dict)

    @classmethod
    def of(cls, candidates: Iterable[Candidate]) -> Catalog:
        modules: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            modules.setdefault(candidate.module_id, []).append(candidate)
        for versions in modules.values():
            versions.sort(key=lambda c: c.version, reverse=True)
        return cls(modules)

    def versions(self, module_id: str) -> list[Candidate]:
        return self.modules.get(module_id, [])


def candidate(
    module_id: str,
    version: str,
    dependencies: Mapping[str, str] | Iterable[tuple[str, str, bool]] = (),
    platform: str | None = None,
) -> Candidate:
    """A candidate from plain strings (``{"charts": "^3.0"}`` or (id, constraint, optional))."""
    if isinstance(dependencies, Mapping):
        requirements = tuple(Requirement.parse(d, c) for d, c in dependencies.items())
    else:
        requirements = tuple(Requirement.parse(d, c, o) for d, c, o in dependencies)
    return Candidate(
        module_id,
        parse_version(version),
        version,
        requirements,
        parse_constraint(platform) if platform else None,
    )


@dataclass(frozen=True)
class Pinned:
    """One module of the answer: the version to install (or keep)."""

    module_id: str
    version: str
    kept: bool
    """Already installed at this version: nothing to do."""


@dataclass(frozen=True)
class Plan:
    """The answer: every module needed, dependencies before their dependents."""

    order: tuple[Pinned, ...]

    @property
    def to_install(self) -> list[Pinned]:
        return [pin for pin in self.order if not pin.kept]


class ResolutionError(Exception):
    """No set of versions satisfies every requirement; the message explains the collision."""


class DependencyCycleError(ResolutionError):
    """The chosen versions depend on each other in a circle."""


class TooComplexError(ResolutionError):
    """The search went past its budget (rounds or seconds) without an answer."""
