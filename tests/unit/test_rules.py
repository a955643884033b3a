"""What the operator checks beyond CEL: catalogs written by hand, verdicts that name fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adx_modules.api import reasons as r
from adx_modules.catalog.model import Catalog, CatalogEntry
from adx_modules.catalog.rules import check_module
from adx_modules.installations.rules import check_installation
from adx_modules.marketplace.rules import check_listing

SAMPLES = Path(__file__).parents[2] / "manifests" / "samples"


def module(
    module_id: str,
    version: str,
    *,
    name: str | None = None,
    phase: str | None = "Available",
    created: str = "2026-01-01T00:00:00Z",
    **spec: Any,
) -> dict[str, Any]:
    base = {
        "moduleId": module_id,
        "version": version,
        "displayName": module_id.title(),
        "author": "tests",
        "runtime": "container",
        "artifact": {"image": {"reference": f"registry.local/{module_id}:{version}"}},
    }
    return {
        "metadata": {
            "name": name or f"{module_id}-{version.replace('.', '-')}",
            "creationTimestamp": created,
        },
        "spec": {**base, **spec},
        "status": {"phase": phase} if phase else {},
    }


SCHEMA = {
    "type": "object",
    "properties": {"retries": {"type": "integer", "minimum": 0}, "mode": {"enum": ["a", "b"]}},
    "required": ["retries"],
    "additionalProperties": False,
}


def catalog(*bodies: dict[str, Any]) -> Catalog:
    return Catalog.from_objects(bodies)


def install(spec: dict[str, Any], cat: Catalog, **settings: Any) -> Any:
    options = {"default_isolation": "container", "enable_wasm": True, "enable_containers": True}
    return check_installation(spec, cat, **{**options, **settings})


def test_a_valid_module_is_available() -> None:
    body = module("charts", "3.2.0", configSchema=SCHEMA)
    verdict = check_module(CatalogEntry.from_object(body), catalog(body))
    assert verdict.ok
    assert verdict.reason == r.AVAILABLE


def test_an_invalid_config_schema_is_named() -> None:
    body = module(
        "charts", "3.2.0", configSchema={"type": "object", "properties": {"x": {"type": 5}}}
    )
    verdict = check_module(CatalogEntry.from_object(body), catalog(body))
    assert not verdict.ok
    assert verdict.reason == r.INVALID_CONFIG_SCHEMA
    assert verdict.message.startswith("spec.configSchema.properties.x.type:")


def test_a_dependency_constraint_that_does_not_parse_is_named() -> None:
    body = module("app", "1.0.0", dependencies=[{"moduleId": "charts", "version": ">=1.*"}])
    verdict = check_module(CatalogEntry.from_object(body), catalog(body))
    assert verdict.reason == r.INVALID_CONSTRAINT
    assert "spec.dependencies[moduleId=charts].version" in verdict.message


def test_the_second_object_publishing_a_version_is_a_duplicate() -> None:
    first = module("charts", "3.2.0", name="charts-a", created="2026-01-01T00:00:00Z")
    second = module("charts", "3.2.0", name="charts-b", created="2026-01-02T00:00:00Z")
    cat = catalog(first, second)
    assert check_module(CatalogEntry.from_object(first), cat).ok
    duplicate = check_module(CatalogEntry.from_object(second), cat)
    assert duplicate.reason == r.DUPLICATE_VERSION
    assert "already published as Module charts-a" in duplicate.message


def test_an_installation_resolves_the_highest_available_match() -> None:
    cat = catalog(
        module("charts", "3.1.0"),
        module("charts", "3.2.0"),
        module("charts", "3.3.0", phase="Rejected"),
        module("charts", "4.0.0"),
    )
    verdict = install({"module": "charts", "version": "^3.0"}, cat)
    assert verdict.ok
    assert verdict.resolved is not None
    assert verdict.resolved.version == "3.2.0"
    assert verdict.isolation == "container"


@pytest.mark.parametrize(
    ("spec", "reason", "says"),
    [
        ({"module": "nope"}, r.MODULE_NOT_FOUND, "spec.module: no Module with moduleId nope"),
        (
            {"module": "charts", "version": "^9"},
            r.NO_MATCHING_VERSION,
            "no Available version of charts matches '^9' (Available: 3.2.0)",
        ),
        ({"module": "charts", "version": ">=3.*"}, r.INVALID_CONSTRAINT, "spec.version:"),
        (
            {"module": "charts", "isolation": "wasm"},
            r.INVALID_SPEC,
            "spec.isolation: wasm does not fit charts 3.2.0",
        ),
        (
            {"module": "charts", "configuration": {"retries": "many"}},
            r.INVALID_CONFIGURATION,
            "spec.configuration.retries: 'many' is not of type 'integer'",
        ),
        (
            {"module": "charts", "configuration": {"mode": "c"}},
            r.INVALID_CONFIGURATION,
            "'retries' is a required property",
        ),
        (
            {"module": "charts", "configuration": {"retries": 1, "extra": True}},
            r.INVALID_CONFIGURATION,
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
    ],
)
def test_installation_rejections_name_the_field(
    spec: dict[str, Any], reason: str, says: str
) -> None:
    verdict = install(spec, catalog(module("charts", "3.2.0", configSchema=SCHEMA)))
    assert not verdict.ok
    assert verdict.reason == reason
    assert says in verdict.message


def test_secret_values_belong_in_a_secret_not_in_the_spec() -> None:
    schema = {"type": "object", "properties": {"token": {"type": "string", "writeOnly": True}}}
    cat = catalog(module("charts", "3.2.0", configSchema=schema))
    verdict = install({"module": "charts", "configuration": {"token": "s3cret"}}, cat)
    assert verdict.reason == r.INVALID_CONFIGURATION
    assert "spec.configuration.token: a secret value" in verdict.message
    assert install({"module": "charts", "configurationSecretRef": {"name": "tok"}}, cat).ok


def test_disabled_isolation_is_refused_and_wasm_modules_default_to_wasm() -> None:
    wasm = module(
        "text", "1.0.0", runtime="wasm", artifact={"wasm": {"url": "https://x.example/m.wasm"}}
    )
    cat = catalog(wasm)
    assert install({"module": "text"}, cat).isolation == "wasm"
    refused = install({"module": "text"}, cat, enable_wasm=False)
    assert refused.reason == r.ISOLATION_DISABLED


def test_isolation_none_is_only_for_trusted_modules() -> None:
    cat = catalog(module("app", "1.0.0"))
    refused = install({"module": "app", "isolation": "none"}, cat)
    assert refused.reason == r.MODULE_NOT_TRUSTED
    assert refused.message.startswith("spec.isolation: none runs a module unconfined")
    assert "app is not one of them" in refused.message
    trusted = install({"module": "app", "isolation": "none"}, cat, trusted=frozenset({"app"}))
    assert (trusted.ok, trusted.isolation) == (True, "none")
    assert install({"module": "app", "isolation": "process"}, cat).ok


def test_missing_permissions_are_listed() -> None:
    cat = catalog(
        module("app", "1.0.0", permissions=["database:read:user_data", "network:access:x.io"])
    )
    verdict = install({"module": "app", "approvedPermissions": ["database:read:user_data"]}, cat)
    assert verdict.ok
    assert verdict.missing_permissions == ("network:access:x.io",)


def test_a_listing_links_to_the_latest_available_version() -> None:
    cat = catalog(
        module("charts", "3.2.0"), module("charts", "3.10.0"), module("charts", "4.0.0-rc.1")
    )
    listing = {"module": "charts", "publisher": {"name": "p"}, "summary": "s", "pricing": {}}
    verdict = check_listing(listing, cat)
    assert verdict.ok
    assert verdict.latest_version == "4.0.0-rc.1"
    assert check_listing({**listing, "module": "other"}, cat).reason == r.MODULE_NOT_FOUND


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_sample_is_valid_for_the_operator(path: Path) -> None:
    bodies = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    everything = [
        doc for sample in SAMPLES.glob("*.yaml") for doc in yaml.safe_load_all(sample.read_text())
    ]
    modules = [
        {**doc, "status": {"phase": "Available"}} for doc in everything if doc["kind"] == "Module"
    ]
    cat = Catalog.from_objects(modules)
    for body in bodies:
        if body["kind"] == "Module":
            assert check_module(CatalogEntry.from_object(body), cat).ok
        elif body["kind"] == "ModuleInstallation":
            assert install(body["spec"], cat).ok
        else:
            assert check_listing(body["spec"], cat).ok
