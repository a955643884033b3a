"""What the operator checks about a MarketplaceListing: is its module published. Pure, no I/O.

Why it exists: a listing is only useful once its module has an Available version; the verdict
says which is the latest, or why there is none, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
