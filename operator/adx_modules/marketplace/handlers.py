"""Kopf handlers of ``MarketplaceListing``: link the listing to its module.

Why it exists: a listing is only useful if its module is published; this finds the module's
latest Available version and the number of active installs, and says plainly when there is no
such module yet. When a version of a listed module changes phase, its listings follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.listing import LISTING
from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.index import catalog_from
from adx_modules.core.context import OperatorContext, report
from adx_modules.core.metrics import RECONCILES
from adx_modules.marketplace.admission import listing_outcome

WATCHER = "marketplace"
ListingsIndex = kopf.Index[str, str]
InstallsIndex = kopf.Index[str, str]


@kopf.index(GROUP, VERSION, "marketplacelistings")
def listings_by_module(body: kopf.Body, name: str, **_: Any) -> dict[str, str]:
    """module -> names of the listings of it."""
    return {str(body.spec.get("module", "")): name}


@kopf.index(GROUP, VERSION, "moduleinstallations")
def install_phases_by_module(body: kopf.Body, **_: Any) -> dict[str, str]:
    """module -> the phase of each installation of it (to count the active installs)."""
    return {str(body.spec.get("module", "")): str(body.status.get("phase") or "")}


def active_installs(kwargs: Mapping[str, Any], module_id: str) -> int:
    phases = cast(InstallsIndex, kwargs["install_phases_by_module"])
    return sum(1 for phase in phases.get(module_id, []) if phase == "Active")


@kopf.on.resume(GROUP, VERSION, "marketplacelistings")
@kopf.on.create(GROUP, VERSION, "marketplacelistings")
@kopf.on.update(GROUP, VERSION, "marketplacelistings")
async def reconcile_listing(*, body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
    installs = active_installs(kwargs, str(body.spec.get("module", "")))
    outcome = listing_outcome(cast(Mapping[str, Any], body), catalog_from(kwargs), installs)
    linked = outcome.patch.get("latestVersion") is not None
    RECONCILES.labels("MarketplaceListing", "linked" if linked else "unlinked").inc()
    report(outcome, body, patch)


@kopf.on.event(GROUP, VERSION, "modules")
async def listed_module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A version of a listed module appeared, changed phase or went: its listings follow."""
    context: OperatorContext = memo["context"]
    if not context.module_changed(WATCHER, event, body):
        return
    module_id = str(body.spec.get("moduleId", ""))
    catalog = catalog_from(kwargs)
    installs = active_installs(kwargs, module_id)
    for listing in cast(ListingsIndex, kwargs["listings_by_module"]).get(module_id, []):
        await context.refresh(
            LISTING, listing, None, lambda b: listing_outcome(b, catalog, installs)
        )
