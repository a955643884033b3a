"""The ``MarketplaceListing`` kind: how a module is presented and sold in the marketplace.

Why it exists: the catalog (Modules) says what a module *is*; a listing says how it is offered
(summary, media, pricing, featured). Reviews, purchases and usage are many and private, so they
live in PostgreSQL; the listing's status carries only their summary (rating, installs).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from adx_modules.api.meta import KindInfo, ObjectStatus, PrinterColumn, age_column, ready_column
from adx_modules.api.types import ApiModel, Keyword, ModuleId, ShortText, Url, rule

PricingModel = Literal["free", "one-time", "subscription"]


class Publisher(ApiModel):
    """Who offers the module."""

    name: ShortText
    """The publisher's name."""
    url: Url | None = None
    """The publisher's site."""


class Pricing(ApiModel):
    """What the module costs."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.model != 'free' || "
                    "(!has(self.amount) && !has(self.currency) && !has(self.period))",
                    "message": "a free listing has no amount, currency or period",
                    "fieldPath": ".model",
                },
                {
                    "rule": "self.model == 'free' || (has(self.amount) && has(self.currency))",
                    "message": "a paid listing (one-time or subscription) needs amount and "
                    "currency",
                    "fieldPath": ".model",
                },
                {
                    "rule": "self.model == 'free' || !has(self.amount) || "
                    "double(self.amount) > 0.0",
                    "message": "a paid listing's amount must be greater than zero",
                    "fieldPath": ".amount",
                },
                {
                    "rule": "(self.model == 'subscription') == has(self.period)",
                    "message": "period (monthly or yearly) is required for a subscription, and "
                    "only for one",
                    "fieldPath": ".period",
                },
            ]
        }
    )

    model: PricingModel = "free"
    """free, one-time or subscription."""
    amount: (
        Annotated[
            str,
            rule(
                r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$",
                "must be a decimal amount with at most two decimals, e.g. 49 or 9.99",
                max_length=12,
            ),
        ]
        | None
    ) = None
    """The price as a decimal string (e.g. 9.99); paid models only."""
    currency: (
        Annotated[str, rule(r"^[A-Z]{3}$", "must be an ISO 4217 code, e.g. USD", max_length=3)]
        | None
    ) = None
    """ISO 4217 currency code; paid models only."""
    period: Literal["monthly", "yearly"] | None = None
    """Billing period; subscriptions only."""


class Media(ApiModel):
    """Pictures and video of the module."""

    icon: Url | None = None
    """A square icon."""
    screenshots: Annotated[list[Url], Field(max_length=10)] = []
    """Screenshots, in order."""
    video: Url | None = None
    """A demo video."""


class MarketplaceListingSpec(ApiModel):
    """The module's shop window."""

    module: ModuleId
    """The module offered (its moduleId); the listing follows its latest Available version."""
    publisher: Publisher
    """Who offers it."""
    summary: Annotated[str, Field(min_length=1, max_length=256)]
    """One sentence shown in search results."""
    description: Annotated[str, Field(max_length=16384)] = ""
    """The long description (Markdown)."""
    categories: Annotated[
        list[Keyword], Field(max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Marketplace categories."""
    tags: Annotated[
        list[Keyword], Field(max_length=20, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Search tags."""
    pricing: Pricing
    """What it costs."""
    featured: bool = False
    """Show it among the featured modules."""
    media: Media | None = None
    """Icon, screenshots, video."""


class MarketplaceListingStatus(ObjectStatus):
    """The marketplace's view of the listing."""

    latest_version: Annotated[str, Field(max_length=64)] | None = None
    """The highest Available version of the module."""
    rating_average: Annotated[float, Field(ge=0, le=5)] | None = None
    """Average review rating, 0-5."""
    rating_count: Annotated[int, Field(ge=0)] = 0
    """How many reviews."""
    installs: Annotated[int, Field(ge=0)] = 0
    """Active installations across tenants."""


LISTING = KindInfo(
    kind="MarketplaceListing",
    plural="marketplacelistings",
    singular="marketplacelisting",
    short_names=("mkt",),
    scope="Cluster",
    spec=MarketplaceListingSpec,
    status=MarketplaceListingStatus,
    description="How a module is offered in the marketplace: summary, media, pricing.",
    columns=(
        PrinterColumn("Module", ".spec.module"),
        PrinterColumn("Pricing", ".spec.pricing.model"),
        PrinterColumn("Rating", ".status.ratingAverage", type="number"),
        PrinterColumn("Featured", ".spec.featured", type="boolean"),
        ready_column(),
        PrinterColumn("Latest", ".status.latestVersion", priority=1),
        age_column(),
    ),
    selectable_fields=("spec.module",),
)
