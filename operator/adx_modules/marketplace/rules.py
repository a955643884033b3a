"""What the service decides about MarketplaceListings: is a listing's module published, and is
a module paid. Pure, no I/O.

Why it exists: a listing is only useful once its module has an Available version; the verdict
says which is the latest, or why there is none, naming the field. A module is paid when one of
its listings has a price: the cheapest names what to buy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from adx_modules.api import reasons as r
from adx_modules.api.listing import MarketplaceListingSpec
from adx_modules.catalog.model import Catalog, describe_validation_error
from adx_modules.catalog.rules import Verdict


@dataclass(frozen=True)
class ListingVerdict(Verdict):
    """The verdict on a listing, with the module's latest Available version."""

    latest_version: str | None = None


def check_listing(raw_spec: Mapping[str, Any], catalog: Catalog) -> ListingVerdict:
    """Is the listed module published, and what is its latest Available version?"""
    try:
        spec = MarketplaceListingSpec.model_validate(raw_spec)
    except ValidationError as error:
        return ListingVerdict(False, r.INVALID_SPEC, describe_validation_error(error, "spec"))
    if not catalog.knows(spec.module):
        return ListingVerdict(
            False,
            r.MODULE_NOT_FOUND,
            f"spec.module: no Module with moduleId {spec.module} exists; publish one first",
        )
    available = catalog.available(spec.module)
    if not available:
        return ListingVerdict(
            False,
            r.NO_MATCHING_VERSION,
            f"{spec.module} has no Available version yet",
        )
    latest = available[0]
    return ListingVerdict(
        True,
        r.LINKED,
        f"lists {spec.module}, latest Available version {latest.version}",
        latest_version=latest.version,
    )


def price_text(amount: object, currency: str, model: str) -> str:
    """``49.00 USD`` (one-time) or ``9.99 USD (subscription)``."""
    text = f"{Decimal(str(amount)):.2f} {currency}"
    return text if model == "one-time" else f"{text} ({model})"


def paid_listing(listings: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(name, price) of the cheapest priced listing among a module's listings, or None when the
    module is free (no listing, or only free ones; listings being deleted do not count)."""
    priced = []
    for body in listings:
        if (body.get("metadata") or {}).get("deletionTimestamp"):
            continue
        pricing = (body.get("spec") or {}).get("pricing") or {}
        model = str(pricing.get("model", "free"))
        try:
            amount = Decimal(str(pricing.get("amount")))
        except InvalidOperation:
            continue
        if model != "free" and amount > 0:
            name = str(body["metadata"]["name"])
            priced.append((amount, name, price_text(amount, str(pricing.get("currency")), model)))
    if not priced:
        return None
    _, name, price = min(priced)
    return name, price
