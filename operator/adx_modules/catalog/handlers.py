"""Kopf handlers of ``Module``: validate what CEL cannot, mark Available or Rejected.

Why it exists: a Module is immutable once published (CEL), so it is checked once on create (and
on operator start); the checks that need other objects or a real parser (JSON Schema, version
constraints, duplicate versions) are here. When a version appears, changes phase or goes, its
sibling versions are revisited (a duplicate may now be the original); the other features watch
Modules for their own objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.api.module import MODULE
from adx_modules.catalog.admission import module_outcome
from adx_modules.catalog.index import catalog_from, forget, modules_index
from adx_modules.core.context import OperatorContext, report
from adx_modules.core.metrics import RECONCILES

WATCHER = "catalog"


@kopf.on.resume(GROUP, VERSION, "modules")
@kopf.on.create(GROUP, VERSION, "modules")
@kopf.on.update(GROUP, VERSION, "modules")
async def reconcile_module(*, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
    outcome = module_outcome(cast(Mapping[str, Any], body), catalog_from(kwargs))
    RECONCILES.labels("Module", outcome.patch.get("phase", "unknown")).inc()
    report(outcome, body, patch)


@kopf.on.event(GROUP, VERSION, "modules")
async def module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Revisit the sibling versions when this one appears, changes phase or goes.

    This runs on the watch event that carries the new phase, after Kopf has updated its
    indexes from the same event, so nothing is missed."""
    context: OperatorContext = memo["context"]
    deleted = event.get("type") == "DELETED"
    if deleted:
        forget(str(body.metadata.get("uid", "")))
    if not context.module_changed(WATCHER, event, body):
        return
    catalog = catalog_from(kwargs)
    for sibling in modules_index(kwargs).get(str(body.spec.get("moduleId", "")), []):
        if sibling.name != name:
            await context.refresh(MODULE, sibling.name, None, lambda b: module_outcome(b, catalog))
