"""Version constraints as people write them, turned into exact ``packaging`` specifiers.

Why it exists: Kubernetes users know Helm's and npm's ``^1.2`` and ``~1.2.3``; Python's
``packaging`` knows ``>=1.2,<2``. One parser accepts both (plus ``1.2.x`` wildcards, bare
versions and ``*``), translates the shorthand to exact ranges, and says precisely what is wrong
with a constraint it refuses. Versions are semantic versions whose pre-release is alpha, beta or
rc: the subset on which SemVer and PEP 440 agree, so ``packaging`` orders them correctly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_CLAUSE = re.compile(r"^(?P<op>==|!=|>=|<=|~=|>|<|=|\^|~)?\s*v?(?P<version>[0-9][0-9A-Za-z.*+-]*)$")
_WILDCARD = re.compile(r"^(?P<base>[0-9]+(\.[0-9]+)?)\.(x|\*)$|^(?P<major>[0-9]+)\.(x|\*)\.(x|\*)$")


class ConstraintError(ValueError):
    """A constraint that cannot be understood; the message says which part and why."""


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: the original text and the exact specifier it means."""

    text: str
    specifier: SpecifierSet
    prereleases: bool = False

    def allows(self, version: Version) -> bool:
        """Whether ``version`` satisfies the constraint. A pre-release is allowed only when the
        constraint itself names one (``>=2.0.0-rc.1``): ``^2.0`` never picks ``2.1.0-beta``."""
        if version.is_prerelease and not self.prereleases:
            return False
        return self.specifier.contains(version, prereleases=True)

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> Version:
    """A module version; semantic-version pre-releases (``-rc.1``) are understood."""
    try:
        return Version(text)
    except InvalidVersion as error:
        raise ConstraintError(f"{text!r} is not a version") from error


def _upper_caret(parts: list[int]) -> str:
    # ^1.2.3 -> <2.0.0, ^0.2.3 -> <0.3.0, ^0.0.3 -> <0.0.4, ^0 -> <1
    for index, part in enumerate(parts):
        if part != 0 or index == len(parts) - 1:
            bumped = parts[: index + 1]
            bumped[-1] += 1
            return ".".join(str(p) for p in bumped + [0] * (len(parts) - index - 1))
    raise ConstraintError("empty version")  # pragma: no cover - parts is never empty


def _upper_tilde(parts: list[int]) -> str:
    # ~1.2.3 -> <1.3.0, ~1.2 -> <1.3, ~1 -> <2
    keep = parts[:2] if len(parts) > 1 else parts[:1]
    keep[-1] += 1
    return ".".join(str(p) for p in keep + [0] * (len(parts) - len(keep)))


def _translate(clause: str) -> list[str]:
    wildcard = _WILDCARD.match(clause)
    if wildcard:
        base = wildcard.group("base") or wildcard.group("major")
        return [f"=={base}.*"]
    match = _CLAUSE.match(clause)
    if not match:
        raise ConstraintError(f"{clause!r} is not a version clause (e.g. >=1.2, ^1.2, ~1.2.3)")
    op, version = match.group("op") or "==", match.group("version")
    if op == "=":
        op = "=="
    if op in ("^", "~"):
        release = list(parse_version(version).release)
        upper = _upper_caret(release) if op == "^" else _upper_tilde(release)
        return [f">={version}", f"<{upper}"]
    if "*" in version and op not in ("==", "!="):
        raise ConstraintError(f"{clause!r}: a wildcard goes only with == or !=")
    if "*" not in version:
        parse_version(version)
    return [f"{op}{version}"]


@lru_cache(maxsize=4096)
def parse_constraint(text: str) -> Constraint:
    """Parse ``*``, ``1.2.3``, ``>=1.2, <2``, ``>=1.2 <2``, ``^1.2``, ``~1.2.3`` or ``1.2.x``."""
    stripped = text.strip()
    if "||" in stripped:
        raise ConstraintError(f"{text!r}: alternatives (||) are not supported; use one range")
    if stripped in ("", "*", "x"):
        return Constraint(text, SpecifierSet())
    joined = re.sub(r"(==|!=|>=|<=|~=|>|<|=|\^|~)\s+", r"\1", stripped)
    clauses = [c for c in re.split(r"\s*,\s*|\s+", joined) if c]
    specifiers: list[str] = []
    for clause in clauses:
        specifiers += _translate(clause)
    try:
        specifier = SpecifierSet(",".join(specifiers))
        names_prerelease = any(
            "*" not in spec.version and Version(spec.version).is_prerelease for spec in specifier
        )
        return Constraint(text, specifier, names_prerelease)
    except InvalidSpecifier as error:
        raise ConstraintError(f"{text!r} is not a valid constraint: {error}") from error
