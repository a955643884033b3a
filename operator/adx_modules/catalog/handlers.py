"""Kopf handlers of ``Module``: load the catalog, validate what CEL cannot, mark Available or
Rejected.

Why it exists: a Module is immutable once published (CEL), so it is checked once on create (and
on operator start); the checks that need other objects or a real parser (JSON Schema, version
constraints, duplicate versions) are here. The catalog is loaded before any handler runs and
follows every Module event; when a version appears, changes phase or goes, its sibling versions
are revisited (a duplicate may now be the original). The other features watch Modules for their
own objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.api.module import MODULE
from adx_modules.catalog.admission import module_outcome
from adx_modules.catalog.index import MEMO_KEY, ModuleCatalog, catalog_from, module_catalog
from adx_modules.clients.errors import UnavailableError
from adx_modules.core.context import OperatorContext, apply_outcome
from adx_modules.core.metrics import RECONCILES

WATCHER = "catalog"


@kopf.on.startup()
async def load_catalog(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """One LIST of every Module before any handler runs: nothing is judged against half a
    catalog. (Runs after the operator's own start-up, which connects the clients.)"""
    context: OperatorContext = memo["context"]
    try:
        modules = await context.kube.list_custom(MODULE)
    except UnavailableError as error:  # e.g. the apiserver's storage is still initializing
        raise kopf.TemporaryError(f"cannot list the Modules yet: {error}", delay=2) from None
    catalog = memo[MEMO_KEY] = ModuleCatalog()
    catalog.load(modules)
    logger.info("catalog loaded: %d Modules", len(catalog))


@kopf.on.resume(GROUP, VERSION, "modules")
@kopf.on.create(GROUP, VERSION, "modules")
@kopf.on.update(GROUP, VERSION, "modules")
async def reconcile_module(
    *, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    outcome = module_outcome(cast(Mapping[str, Any], body), catalog_from(memo))
    RECONCILES.labels("Module", outcome.patch.get("phase", "unknown")).inc()
    apply_outcome(outcome, body, patch)


@kopf.on.event(GROUP, VERSION, "modules")
async def module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **_: Any
) -> None:
    """Keep the catalog current; revisit the sibling versions when this one appears, changes
    phase or goes."""
    catalog = module_catalog(memo)
    if not catalog.changed(WATCHER, event.get("type"), cast(Mapping[str, Any], body)):
        return
    context: OperatorContext = memo["context"]
    current = catalog.catalog()
    for sibling in catalog.versions(str(body.spec.get("moduleId", ""))):
        if sibling.name != name:
            await context.refresh(MODULE, sibling.name, None, lambda b: module_outcome(b, current))
