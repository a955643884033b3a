"""Dependencies within a tenant: the plan, the dependents, what an update would break."""

from __future__ import annotations

from typing import Any

import pytest

from adx_modules.catalog.model import Catalog
from adx_modules.catalog.resolver.model import ResolutionError
from adx_modules.installations.dependencies import (
    broken_dependents,
    dependents_of,
    installation_name,
    plan,
)


def module(
    module_id: str, version: str, deps: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{module_id}-{version}", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "moduleId": module_id,
            "version": version,
            "displayName": module_id,
            "author": "t",
            "runtime": "container",
            "artifact": {"image": {"reference": f"r.local/{module_id}:{version}"}},
            "dependencies": [{"moduleId": d, "version": c} for d, c in (deps or {}).items()],
            **spec,
        },
        "status": {"phase": "Available"},
    }


def installation(
    name: str,
    module_id: str,
    version: str | None = None,
    requires: list[str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: dict[str, Any] = {"resolvedDependencies": [{"installation": r} for r in requires or []]}
    if version:
        status["installedVersion"] = version
    return {"metadata": metadata, "spec": {"module": module_id}, "status": status}


CATALOG = Catalog.from_objects(
    [
        module(
            "dashboard",
            "2.0.0",
            {"charts": "^3", "export": "*"},
            permissions=["database:read:events"],
        ),
        module("charts", "3.1.0", {"fonts": "^1"}, permissions=["file:read:/fonts"]),
        module("charts", "2.0.0"),
        module("export", "1.0.0", {"fonts": ">=1.0"}),
        module("fonts", "1.2.0"),
    ]
)


def test_a_two_level_plan_installs_dependencies_first_by_level() -> None:
    result = plan("dash", "dashboard", "*", CATALOG, [])
    assert result.version == "2.0.0"
    assert [(d.module_id, d.version, d.level, d.create) for d in result.dependencies] == [
        ("fonts", "1.2.0", 1, True),
        ("charts", "3.1.0", 2, True),
        ("export", "1.0.0", 2, True),
    ]
    assert [d.installation for d in result.dependencies] == ["fonts", "charts", "export"]
    assert result.dependencies[1].permissions == ["file:read:/fonts"]


def test_what_the_tenant_has_is_kept_and_provides_it() -> None:
    installed = [installation("my-fonts", "fonts", "1.2.0")]
    result = plan("dash", "dashboard", "*", CATALOG, installed)
    fonts = next(d for d in result.dependencies if d.module_id == "fonts")
    assert (fonts.installation, fonts.create) == ("my-fonts", False)


def test_an_installed_incompatible_version_blocks_with_an_explanation() -> None:
    installed = [installation("charts", "charts", "2.0.0")]
    with pytest.raises(ResolutionError, match=r"dashboard 2\.0\.0 requires charts \^3"):
        plan("dash", "dashboard", "*", CATALOG, installed)


def test_dependents_are_the_live_installations_resolved_against_it() -> None:
    installed = [
        installation("charts", "charts", "3.1.0"),
        installation("dash", "dashboard", "2.0.0", requires=["charts", "fonts"]),
        installation("old", "dashboard", "2.0.0", requires=["charts"], deleting=True),
    ]
    assert dependents_of("charts", installed) == ["dash"]
    assert dependents_of("dash", installed) == []


def test_an_update_that_breaks_a_dependent_is_named() -> None:
    catalog = Catalog.from_objects(
        [
            module("dashboard", "2.0.0", {"charts": ">=3.0, <4"}),
            module("charts", "3.1.0"),
            module("charts", "4.0.0"),
        ]
    )
    installed = [
        installation("charts", "charts", "3.1.0"),
        installation("dash", "dashboard", "2.0.0", requires=["charts"]),
    ]
    assert broken_dependents("charts", "charts", "3.9.0", catalog, installed) == []
    assert broken_dependents("charts", "charts", "4.0.0", catalog, installed) == [
        "dashboard 2.0.0 (installation dash) requires charts >=3.0, <4"
    ]


def test_dependency_installation_names_are_short_and_unique() -> None:
    assert installation_name("charts", set()) == "charts"
    other = installation_name("charts", {"charts"})
    assert other.startswith("charts-")
    assert len(other) <= 48
    long_name = installation_name("x" * 60, set())
    assert len(long_name) <= 48


def test_pending_dependencies_are_the_closures_unpublished_and_unjudged_parts() -> None:
    scanning = {**module("charts", "3.2.0"), "status": {"phase": "Scanning"}}
    rejected = {**module("charts", "3.1.0"), "status": {"phase": "Rejected"}}
    catalog = Catalog.from_objects(
        [
            module("app", "1.0.0", {"charts": "^3.0"}),
            scanning,
            rejected,
            module("charts", "3.0.0", {"fonts": "*"}),
            module("solo", "1.0.0"),
        ]
    )
    assert catalog.pending_dependencies("app") == [
        "charts 3.2.0 (Scanning)",
        "fonts (not published yet)",
    ]
    assert catalog.pending_dependencies("solo") == []
    judged = Catalog.from_objects([module("app", "1.0.0", {"charts": "^3.0"}), rejected])
    assert judged.pending_dependencies("app") == []  # judged, even if unusable: the plan says
