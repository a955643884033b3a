"""Kopf handlers of ``MarketplaceListing``: link the listing to its module.

Why it exists: a listing is only useful if its module is published; this finds the module's
latest Available version and the number of active installs, and says plainly when there is no
such module yet. When a version of a listed module changes phase, its listings follow. Which
listings name a module, and the phase of each installation, are kept from the watch (O(1) per
event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.listing import LISTING
from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.index import catalog_from, module_catalog
from adx_modules.core.context import OperatorContext, apply_outcome
from adx_modules.core.metrics import RECONCILES
from adx_modules.marketplace.admission import listing_outcome

WATCHER = "marketplace"
Listings = dict[str, set[str]]  # module -> listing names
Phases = dict[str, dict[str, str]]  # module -> installation uid -> phase


@kopf.on.startup()
async def prepare(memo: kopf.Memo, **_: Any) -> None:
    """Shared state goes into the operator's memo before any object is seen: each object's
    memo is a shallow copy of it, so what is added later would stay with one object."""
    memo["listings_by_module"] = {}
    memo["install_phases_by_module"] = {}


def _listings(memo: kopf.Memo) -> Listings:
    return cast(Listings, memo["listings_by_module"])


def _phases(memo: kopf.Memo) -> Phases:
    return cast(Phases, memo["install_phases_by_module"])


def active_installs(memo: kopf.Memo, module_id: str) -> int:
    return sum(1 for phase in _phases(memo).get(module_id, {}).values() if phase == "Active")


@kopf.on.event(GROUP, VERSION, "marketplacelistings")
async def listing_seen(
    *, event: kopf.RawEvent, spec: kopf.Spec, name: str, memo: kopf.Memo, **_: Any
) -> None:
    names = _listings(memo).setdefault(str(spec.get("module", "")), set())
    if event.get("type") == "DELETED":
        names.discard(name)
    else:
        names.add(name)


@kopf.on.event(GROUP, VERSION, "moduleinstallations")
async def install_phase_seen(
    *, event: kopf.RawEvent, body: kopf.Body, uid: str, memo: kopf.Memo, **_: Any
) -> None:
    """Each installation's phase; when one becomes Active or stops being, the listings of its
    module count their installs again (not only when the listing or the module changes)."""
    module_id = str(body.spec.get("module", ""))
    phases = _phases(memo).setdefault(module_id, {})
    was_active = phases.get(uid) == "Active"
    if event.get("type") == "DELETED":
        phases.pop(uid, None)
    else:
        phases[uid] = str(body.status.get("phase") or "")
    if was_active == (phases.get(uid) == "Active") or not _listings(memo).get(module_id):
        return
    context: OperatorContext = memo["context"]
    current = catalog_from(memo)
    installs = active_installs(memo, module_id)
    for listing in sorted(_listings(memo).get(module_id, ())):
        await context.refresh(
            LISTING, listing, None, lambda b: listing_outcome(b, current, installs)
        )


@kopf.on.resume(GROUP, VERSION, "marketplacelistings")
@kopf.on.create(GROUP, VERSION, "marketplacelistings")
@kopf.on.update(GROUP, VERSION, "marketplacelistings")
async def reconcile_listing(
    *, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    installs = active_installs(memo, str(body.spec.get("module", "")))
    outcome = listing_outcome(cast(Mapping[str, Any], body), catalog_from(memo), installs)
    linked = outcome.patch.get("latestVersion") is not None
    RECONCILES.labels("MarketplaceListing", "linked" if linked else "unlinked").inc()
    apply_outcome(outcome, body, patch)


@kopf.on.event(GROUP, VERSION, "modules")
async def listed_module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    """A version of a listed module appeared, changed phase or went: its listings follow."""
    catalog = module_catalog(memo)
    if not catalog.changed(WATCHER, event.get("type"), cast(Mapping[str, Any], body)):
        return
    context: OperatorContext = memo["context"]
    module_id = str(body.spec.get("moduleId", ""))
    current = catalog.catalog()
    installs = active_installs(memo, module_id)
    for listing in sorted(_listings(memo).get(module_id, ())):
        await context.refresh(
            LISTING, listing, None, lambda b: listing_outcome(b, current, installs)
        )
