"""The committed CRDs are what the models generate, and they are fit for the apiserver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adx_modules.api import INSTALLATION, KINDS, LISTING, MODULE
from adx_modules.api.crdgen import file_name, render

CRDS = Path(__file__).parents[2] / "crds"


CHART_CRDS = CRDS.parent / "helm" / "adx-module-operator" / "crds"


@pytest.mark.parametrize("folder", [CRDS, CHART_CRDS], ids=["crds", "chart"])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_the_models(kind: Any, folder: Path) -> None:
    committed = (folder / file_name(kind)).read_text()
    assert committed == render(kind), f"{folder}/{file_name(kind)} is stale: run 'make crds'"


def _walk(
    node: dict[str, Any], path: str, is_field: bool = True
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    yield path, node, is_field
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]", is_field=False)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_string_and_list_is_bounded_and_described(kind: Any) -> None:
    crd = yaml.safe_load(render(kind))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for root in ("spec", "status"):
        for path, node, is_field in _walk(schema["properties"][root], root):
            if node.get("type") == "string" and "enum" not in node:
                assert "maxLength" in node, f"{path} has no maxLength"
            if node.get("type") == "array":
                assert "maxItems" in node, f"{path} has no maxItems"
            assert "$ref" not in node, f"{path} is not structural"
            assert "anyOf" not in node, f"{path} is not structural"
            if is_field:
                assert node.get("description"), f"{path} has no description"


def test_kubectl_names_and_columns() -> None:
    names = {k.kind: yaml.safe_load(render(k))["spec"] for k in KINDS}
    assert names["Module"]["names"]["shortNames"] == ["mod"]
    assert names["ModuleInstallation"]["names"]["shortNames"] == ["mi"]
    assert names["MarketplaceListing"]["names"]["shortNames"] == ["mkt"]
    assert all(spec["names"]["categories"] == ["adx"] for spec in names.values())
    assert names["ModuleInstallation"]["scope"] == "Namespaced"
    assert names["Module"]["scope"] == names["MarketplaceListing"]["scope"] == "Cluster"

    def columns(kind: Any) -> list[str]:
        version = yaml.safe_load(render(kind))["spec"]["versions"][0]
        return [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]

    assert columns(MODULE) == ["Module", "Version", "Runtime", "Score", "Ready", "Age"]
    assert columns(INSTALLATION) == ["Module", "Installed", "Isolation", "Phase", "Ready", "Age"]
    assert columns(LISTING) == ["Module", "Pricing", "Rating", "Featured", "Ready", "Age"]


def test_committed_api_reference_matches_the_models() -> None:
    from adx_modules.api.crdgen import reference  # noqa: PLC0415

    committed = (CRDS.parent / "docs" / "api.md").read_text()
    assert committed == reference(), "docs/api.md is stale: run 'make crds'"
