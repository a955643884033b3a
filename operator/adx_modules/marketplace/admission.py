"""From a MarketplaceListing and the catalog to its status: the listing handler's decision. Pure.

Why it exists: a listing's status (its module's latest Available version, active installs) must
come out the same whether the listing changed or its module did; this computes it from the
object, the catalog and the install count alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.listing import MarketplaceListingStatus
from adx_modules.catalog.model import Catalog
from adx_modules.core.status import Outcome, StatusUpdate, generation
from adx_modules.marketplace.rules import check_listing


def listing_outcome(
    body: Mapping[str, Any], catalog: Catalog, installs: int, now: datetime | None = None
) -> Outcome:
    """A MarketplaceListing: linked to its module's latest Available version, or not."""
    status = body.get("status") or {}
    update = StatusUpdate(
        status, generation(body), now or datetime.now(UTC), MarketplaceListingStatus
    )
    verdict = check_listing(body.get("spec") or {}, catalog)
    update.set(installs=installs, message=verdict.message)
    if verdict.ok:
        update.condition(c.RESOLVED, "True", verdict.reason, verdict.message)
        update.ready(r.LINKED, verdict.message).set(latest_version=verdict.latest_version)
    else:
        update.condition(c.RESOLVED, "False", verdict.reason, verdict.message)
        update.stalled(verdict.reason, verdict.message).set(latest_version=None)
    return Outcome(update.patch(), update.ready_event(status))
