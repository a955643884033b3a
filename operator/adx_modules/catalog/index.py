"""The operator's in-memory catalog: Modules as parsed entries, kept current by Kopf's watch.

Why it exists: every handler asks the catalog (does a module exist, which versions are
Available), and Modules are many and immutable. Kopf keeps this index current from its watch
(the index function runs once per Module event); the entry it stores is parsed once per Module
(by uid) and only its status fields are read again, so no handler's cost grows with the size
of the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.model import Catalog, CatalogEntry, ParsedSpec

ModulesIndex = kopf.Index[str, CatalogEntry]

_PARSED: dict[str, ParsedSpec] = {}
"""Specs by Module uid: parsed once (a spec never changes once published)."""


@kopf.index(GROUP, VERSION, "modules")
def modules_by_id(body: kopf.Body, **_: Any) -> dict[str, CatalogEntry]:
    """moduleId -> the catalog entries of the Module objects that publish it."""
    entry = CatalogEntry.from_object(cast(Mapping[str, Any], body), _PARSED)
    return {entry.module_id: entry}


def forget(uid: str) -> None:
    """A Module is gone: drop its parsed spec."""
    _PARSED.pop(uid, None)


def modules_index(kwargs: Mapping[str, Any]) -> ModulesIndex:
    """The Modules index from a handler's keyword arguments (Kopf passes indexes by name)."""
    return cast(ModulesIndex, kwargs["modules_by_id"])


def catalog_from(kwargs: Mapping[str, Any]) -> Catalog:
    """The catalog as the index knows it: a view, nothing is copied or parsed."""
    return Catalog.view(modules_index(kwargs))
