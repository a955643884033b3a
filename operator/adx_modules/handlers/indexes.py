"""Kopf indexes: the operator's in-memory view of Modules, installations and listings.

Why it exists: validating an installation or a listing needs the catalog of Modules, and a
change to a Module must reach the installations and listings that name it. Kopf keeps these
indexes current from its watches, so handlers ask memory, not the apiserver.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.validation.catalog import Catalog, CatalogEntry

ModulesIndex = kopf.Index[str, dict[str, Any]]
InstallationsIndex = kopf.Index[str, tuple[str, str, str]]
ListingsIndex = kopf.Index[str, str]


@kopf.index(GROUP, VERSION, "modules")
def modules_by_id(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    """moduleId -> the Module objects (plain dicts) that publish it."""
    return {str(body.spec.get("moduleId", "")): _plain(body)}


@kopf.index(GROUP, VERSION, "moduleinstallations")
def installations_by_module(
    body: kopf.Body, namespace: str | None, name: str, **_: Any
) -> dict[str, tuple[str, str, str]]:
    """module -> (namespace, name, phase) of the installations of it."""
    phase = str(body.status.get("phase") or "")
    return {str(body.spec.get("module", "")): (namespace or "", name, phase)}


@kopf.index(GROUP, VERSION, "marketplacelistings")
def listings_by_module(body: kopf.Body, name: str, **_: Any) -> dict[str, str]:
    """module -> names of the listings of it."""
    return {str(body.spec.get("module", "")): name}


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {
        "metadata": dict(body.metadata),
        "spec": dict(body.spec),
        "status": dict(body.status),
    }


def modules_index(kwargs: dict[str, Any]) -> ModulesIndex:
    """The Modules index from a handler's keyword arguments (Kopf passes indexes by name)."""
    return cast(ModulesIndex, kwargs["modules_by_id"])


def installations_index(kwargs: dict[str, Any]) -> InstallationsIndex:
    return cast(InstallationsIndex, kwargs["installations_by_module"])


def listings_index(kwargs: dict[str, Any]) -> ListingsIndex:
    return cast(ListingsIndex, kwargs["listings_by_module"])


def catalog_from(index: ModulesIndex) -> Catalog:
    """The catalog as the index knows it."""
    return Catalog(CatalogEntry.from_object(body) for key in index for body in index.get(key, []))
