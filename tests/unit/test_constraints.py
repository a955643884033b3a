"""Version constraints: npm/Helm shorthand and PEP 440 ranges mean exact specifiers."""

from __future__ import annotations

import pytest

from adx_modules.catalog.resolver.constraints import (
    ConstraintError,
    parse_constraint,
    parse_version,
)


@pytest.mark.parametrize(
    ("text", "allowed", "refused"),
    [
        ("*", ["0.0.1", "9.9.9"], ["1.0.0-rc.1"]),
        ("1.2.3", ["1.2.3"], ["1.2.4", "1.2.2"]),
        ("=1.2.3", ["1.2.3"], ["1.2.4"]),
        ("^1.2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
        ("^1.2.3", ["1.2.3", "1.99.0"], ["1.2.2", "2.0.0"]),
        ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
        ("^0.0.3", ["0.0.3"], ["0.0.4"]),
        ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0"]),
        ("~1.2", ["1.2.0", "1.2.7"], ["1.3.0", "1.1.0"]),
        ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
        (">=1.0, <2.0", ["1.0.0", "1.5.0"], ["2.0.0", "0.9.0"]),
        (">= 1.0 < 2.0", ["1.5.0"], ["2.0.0"]),
        ("1.2.x", ["1.2.0", "1.2.9"], ["1.3.0"]),
        ("1.x", ["1.0.0", "1.9.0"], ["2.0.0"]),
        ("~=1.4", ["1.4.0", "1.9.0"], ["2.0.0"]),
        ("!=1.5.0", ["1.4.0", "1.6.0"], ["1.5.0"]),
        (">=2.0.0-rc.1", ["2.0.0-rc.1", "2.0.0", "2.0.0-rc.2"], ["2.0.0-beta.1"]),
    ],
)
def test_constraints_allow_exactly_what_they_say(
    text: str, allowed: list[str], refused: list[str]
) -> None:
    constraint = parse_constraint(text)
    for version in allowed:
        assert constraint.allows(parse_version(version)), f"{text} should allow {version}"
    for version in refused:
        assert not constraint.allows(parse_version(version)), f"{text} should refuse {version}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "is not a version clause"),
        ("1.0 || 2.0", "alternatives (||) are not supported"),
        (">>1", "is not a version clause"),
        ("^", "is not a version clause"),
        (">=1.*", "a wildcard goes only with == or !="),
        ("1.0.0-foo", "is not a version"),
    ],
)
def test_bad_constraints_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(
        ConstraintError, match=says.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")
    ):
        parse_constraint(text)


def test_semver_prereleases_order_as_semver_says() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-rc.1", "1.0.0"]
    assert sorted(ordered, key=parse_version) == ordered
