"""The resolver on hand-written catalogs: diamonds, sharing, backtracking, optional
dependencies, cycles, pre-releases, shorthand ranges, platform compatibility, explanations."""

from __future__ import annotations

import time

import pytest

from adx_modules.catalog.resolver.engine import resolve
from adx_modules.catalog.resolver.model import (
    Catalog,
    DependencyCycleError,
    Plan,
    Requirement,
    ResolutionError,
    TooComplexError,
    candidate,
)


def pins(plan: Plan) -> list[tuple[str, str]]:
    return [(pin.module_id, pin.version) for pin in plan.order]


def test_a_diamond_resolves_to_one_shared_version_installed_first() -> None:
    catalog = Catalog.of(
        [
            candidate("app", "1.0.0", {"left": "^1", "right": "^1"}),
            candidate("left", "1.2.0", {"base": ">=2.0"}),
            candidate("right", "1.1.0", {"base": "<3.0"}),
            candidate("base", "3.0.0"),
            candidate("base", "2.5.0"),
            candidate("base", "1.0.0"),
        ]
    )
    order = pins(resolve(catalog, Requirement.parse("app")))
    assert ("base", "2.5.0") in order
    assert order.index(("base", "2.5.0")) < order.index(("left", "1.2.0"))
    assert order[-1] == ("app", "1.0.0")


def test_backtracking_finds_the_older_version_that_fits() -> None:
    catalog = Catalog.of(
        [
            candidate("app", "2.0.0", {"lib": "^2", "tool": "*"}),
            candidate("app", "1.0.0", {"lib": "^1", "tool": "*"}),
            candidate("lib", "2.0.0"),
            candidate("lib", "1.3.0"),
            candidate("tool", "1.0.0", {"lib": "<2"}),
        ]
    )
    assert pins(resolve(catalog, Requirement.parse("app"))) == [
        ("lib", "1.3.0"),
        ("tool", "1.0.0"),
        ("app", "1.0.0"),
    ]


def test_installed_modules_keep_their_version_and_are_preferred() -> None:
    catalog = Catalog.of(
        [
            candidate("dash", "1.0.0", {"charts": ">=2.0"}),
            candidate("charts", "3.2.0"),
            candidate("charts", "2.4.0"),
        ]
    )
    plan = resolve(catalog, Requirement.parse("dash"), installed={"charts": "2.4.0"})
    assert pins(plan) == [("charts", "2.4.0"), ("dash", "1.0.0")]
    assert [p.module_id for p in plan.to_install] == ["dash"]


def test_the_requested_module_itself_may_change_version() -> None:
    catalog = Catalog.of([candidate("charts", "3.2.0"), candidate("charts", "2.4.0")])
    plan = resolve(catalog, Requirement.parse("charts", "^3"), installed={"charts": "2.4.0"})
    assert pins(plan) == [("charts", "3.2.0")]


def test_a_collision_names_both_requirements() -> None:
    catalog = Catalog.of(
        [
            candidate("analytics", "2.1.0", {"charts": ">=3.0"}),
            candidate("reports", "1.4.0", {"charts": "<3.0"}),
            candidate("charts", "3.1.0"),
            candidate("charts", "2.0.0"),
            candidate("suite", "1.0.0", {"analytics": "^2.1", "reports": "^1.4"}),
        ]
    )
    with pytest.raises(ResolutionError) as caught:
        resolve(catalog, Requirement.parse("suite"))
    message = str(caught.value)
    assert "analytics 2.1.0 requires charts >=3.0" in message
    assert "reports 1.4.0 requires charts <3.0" in message


def test_an_installed_dependent_blocks_and_is_named() -> None:
    catalog = Catalog.of(
        [
            candidate("analytics", "2.1.0", {"charts": ">=3.0"}),
            candidate("reports", "1.4.0", {"charts": "<3.0"}),
            candidate("charts", "3.1.0"),
            candidate("charts", "2.0.0"),
        ]
    )
    installed = {"charts": "2.0.0", "reports": "1.4.0"}
    with pytest.raises(ResolutionError) as caught:
        resolve(catalog, Requirement.parse("analytics"), installed=installed)
    message = str(caught.value)
    assert "analytics 2.1.0 requires charts >=3.0" in message
    assert "charts 2.0.0 (installed) is kept" in message
    assert "reports 1.4.0 (installed) requires charts <3.0" in message


def test_nothing_matching_lists_what_exists() -> None:
    catalog = Catalog.of([candidate("charts", "3.2.0"), candidate("charts", "2.9.0")])
    with pytest.raises(ResolutionError, match=r"the versions of charts are 3\.2\.0, 2\.9\.0"):
        resolve(catalog, Requirement.parse("charts", ">=9"))
    with pytest.raises(ResolutionError, match="no version of ghost is published"):
        resolve(Catalog.of([candidate("app", "1.0.0", {"ghost": "*"})]), Requirement.parse("app"))


def test_optional_dependencies_are_installed_when_possible_and_dropped_otherwise() -> None:
    with_pdf = Catalog.of(
        [
            candidate("app", "1.0.0", [("pdf", "^1", True), ("core", "*", False)]),
            candidate("pdf", "1.2.0"),
            candidate("core", "1.0.0"),
        ]
    )
    assert ("pdf", "1.2.0") in pins(resolve(with_pdf, Requirement.parse("app")))
    without_pdf = Catalog.of(
        [
            candidate("app", "1.0.0", [("pdf", "^1", True), ("core", "*", False)]),
            candidate("pdf", "2.0.0"),
            candidate("core", "1.0.0"),
        ]
    )
    assert pins(resolve(without_pdf, Requirement.parse("app"))) == [
        ("core", "1.0.0"),
        ("app", "1.0.0"),
    ]


def test_cycles_are_reported() -> None:
    catalog = Catalog.of(
        [
            candidate("a", "1.0.0", {"b": "*"}),
            candidate("b", "1.0.0", {"c": "*"}),
            candidate("c", "1.0.0", {"a": "*"}),
        ]
    )
    with pytest.raises(DependencyCycleError, match=r"a 1\.0\.0 -> b 1\.0\.0 -> c 1\.0\.0 -> a"):
        resolve(catalog, Requirement.parse("a"))


def test_prereleases_only_when_asked_for() -> None:
    catalog = Catalog.of([candidate("lib", "2.0.0-rc.1"), candidate("lib", "1.9.0")])
    assert pins(resolve(catalog, Requirement.parse("lib"))) == [("lib", "1.9.0")]
    assert pins(resolve(catalog, Requirement.parse("lib", ">=2.0.0-rc.1"))) == [
        ("lib", "2.0.0-rc.1")
    ]


@pytest.mark.parametrize(
    ("constraint", "chosen"),
    [("^1.2", "1.9.0"), ("~1.2.0", "1.2.5"), ("1.x", "1.9.0"), ("^0.3", "0.3.1"), ("*", "2.0.0")],
)
def test_shorthand_ranges(constraint: str, chosen: str) -> None:
    catalog = Catalog.of(
        candidate("lib", v) for v in ["2.0.0", "1.9.0", "1.3.0", "1.2.5", "1.2.0", "0.3.1", "0.2.0"]
    )
    assert pins(resolve(catalog, Requirement.parse("lib", constraint))) == [("lib", chosen)]


def test_platform_compatibility_is_honoured() -> None:
    catalog = Catalog.of(
        [
            candidate("app", "2.0.0", platform=">=3.0"),
            candidate("app", "1.5.0", platform=">=2.0, <3.0"),
        ]
    )
    assert pins(resolve(catalog, Requirement.parse("app"), platform="2.4.0")) == [("app", "1.5.0")]
    assert pins(resolve(catalog, Requirement.parse("app"), platform="3.1.0")) == [("app", "2.0.0")]


def test_a_pathological_catalog_ends_within_its_budget_with_a_typed_error() -> None:
    # the pigeonhole principle: 9 modules each need a "hole" module version of their own,
    # among 8 holes; unsatisfiable, and no search shortcut exists
    holes, pigeons = 8, 9
    modules = [
        candidate(f"pigeon{p}", f"{h + 1}.0.0", {f"hole{h}": f"=={p + 1}.0.0"})
        for p in range(pigeons)
        for h in range(holes)
    ]
    modules += [candidate(f"hole{h}", f"{p + 1}.0.0") for h in range(holes) for p in range(pigeons)]
    modules.append(candidate("root", "1.0.0", {f"pigeon{p}": "*" for p in range(pigeons)}))
    began = time.monotonic()
    with pytest.raises(TooComplexError, match=r"too entangled|time budget"):
        resolve(Catalog.of(modules), Requirement.parse("root"), budget_seconds=1.5, max_rounds=3000)
    assert time.monotonic() - began < 3.0
