"""The operator's in-memory catalog: parsed once, current from the watch, and telling each
watcher exactly when what depends on a Module must be revisited."""

from __future__ import annotations

from typing import Any

from adx_modules.catalog.index import ModuleCatalog


def module(uid: str, version: str, phase: str | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"charts-{version.replace('.', '-')}", "uid": uid},
        "spec": {
            "moduleId": "charts",
            "version": version,
            "displayName": "Charts",
            "author": "tests",
            "runtime": "container",
            "artifact": {"image": {"reference": "registry.local/charts:1"}},
            **spec,
        },
        "status": {"phase": phase} if phase else {},
    }


def test_a_module_listed_at_start_is_not_news_until_its_phase_changes() -> None:
    catalog = ModuleCatalog()
    catalog.load([module("u1", "1.0.0")])
    assert not catalog.changed("w", None, module("u1", "1.0.0"))  # the watch lists it again
    assert catalog.changed("w", "MODIFIED", module("u1", "1.0.0", "Available"))
    assert not catalog.changed("w", "MODIFIED", module("u1", "1.0.0", "Available"))
    assert [e.version for e in catalog.catalog().available("charts")] == ["1.0.0"]


def test_a_module_that_appears_after_start_is_news_even_in_the_initial_listing() -> None:
    catalog = ModuleCatalog()
    catalog.load([])
    assert catalog.changed("w", None, module("u2", "2.0.0", "Available"))
    assert catalog.changed("other-watcher", None, module("u2", "2.0.0", "Available"))


def test_a_deleted_module_is_news_and_leaves_the_catalog() -> None:
    catalog = ModuleCatalog()
    catalog.load([module("u1", "1.0.0", "Available"), module("u2", "2.0.0", "Available")])
    assert catalog.changed("w", "DELETED", module("u1", "1.0.0", "Available"))
    assert [e.version for e in catalog.versions("charts")] == ["2.0.0"]
    assert len(catalog) == 1


def test_a_spec_is_parsed_once_and_statuses_are_read_again(monkeypatch: Any) -> None:
    calls = []
    from adx_modules.catalog import model  # noqa: PLC0415

    real = model.parse_spec

    def counting(raw: Any) -> Any:
        calls.append(raw["version"])
        return real(raw)

    monkeypatch.setattr(model, "parse_spec", counting)
    catalog = ModuleCatalog()
    for phase in (None, "Available", "Available", "Rejected"):
        catalog.observe("MODIFIED", module("u1", "1.0.0", phase))
    assert calls == ["1.0.0"]
    assert catalog.versions("charts")[0].phase == "Rejected"
