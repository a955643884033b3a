"""Kopf handlers of ``MarketplaceListing``: link the listing to its module.

Why it exists: a listing is only useful if its module is published; this finds the module's
latest Available version and the number of active installs, and says plainly when there is no
such module yet.
"""

from __future__ import annotations

from typing import Any

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.handlers.indexes import catalog_from, installations_index, modules_index
from adx_modules.handlers.reconcile import listing_outcome
from adx_modules.handlers.revisit import active_installs
from adx_modules.metrics import RECONCILES


@kopf.on.resume(GROUP, VERSION, "marketplacelistings")
@kopf.on.create(GROUP, VERSION, "marketplacelistings")
@kopf.on.update(GROUP, VERSION, "marketplacelistings")
async def reconcile_listing(*, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
    raw = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
    module_id = str(body.spec.get("module", ""))
    installs = active_installs(installations_index(kwargs), module_id)
    outcome = listing_outcome(raw, catalog_from(modules_index(kwargs)), installs)
    linked = outcome.patch.get("latestVersion") is not None
    RECONCILES.labels("MarketplaceListing", "linked" if linked else "unlinked").inc()
    patch.status.update(outcome.patch)
    if outcome.event:
        kopf.event(body, type=outcome.event[0], reason=outcome.event[1], message=outcome.event[2])
