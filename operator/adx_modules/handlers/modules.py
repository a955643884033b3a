"""Kopf handlers of ``Module``: validate what CEL cannot, mark Available or Rejected.

Why it exists: a Module is immutable once published (CEL), so it is checked once on create (and
on operator start); the checks that need other objects or a real parser (JSON Schema, version
constraints, duplicate versions) are here. Then everything that names the module is revisited.
"""

from __future__ import annotations

from typing import Any

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.handlers.indexes import (
    catalog_from,
    installations_index,
    listings_index,
    modules_index,
)
from adx_modules.handlers.lifecycle import OperatorContext
from adx_modules.handlers.reconcile import module_outcome
from adx_modules.handlers.revisit import revisit
from adx_modules.metrics import RECONCILES


@kopf.on.resume(GROUP, VERSION, "modules")
@kopf.on.create(GROUP, VERSION, "modules")
@kopf.on.update(GROUP, VERSION, "modules")
async def reconcile_module(*, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
    raw = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
    outcome = module_outcome(raw, catalog_from(modules_index(kwargs)))
    RECONCILES.labels("Module", outcome.patch.get("phase", "unknown")).inc()
    patch.status.update(outcome.patch)
    if outcome.event:
        kopf.event(body, type=outcome.event[0], reason=outcome.event[1], message=outcome.event[2])


@kopf.on.event(GROUP, VERSION, "modules")
async def module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    """When a version appears, changes phase or goes, revisit what names the module.

    This runs on the watch event that carries the new phase, after Kopf has updated its
    indexes from the same event, so every installation or listing created before it is seen,
    and any created after it sees the new phase in its own handler: nothing is missed.
    """
    context: OperatorContext = memo["context"]
    phase = str(body.status.get("phase") or "")
    deleted = event.get("type") == "DELETED"
    if not deleted and context.seen_phases.get(name) == phase:
        return
    if deleted:
        context.seen_phases.pop(name, None)
    else:
        context.seen_phases[name] = phase
    if context.kube is None:
        return
    modules = modules_index(kwargs)
    await revisit(
        str(body.spec.get("moduleId", "")),
        context=context,
        kube=context.kube,
        catalog=catalog_from(modules),
        modules=modules,
        installations=installations_index(kwargs),
        listings=listings_index(kwargs),
        skip=name,
    )
