"""The marketplace's routes: search, featured, listings (what a remote marketplace syncs), reviews,
ratings, recommendations, purchases.

Why it exists: front ends and other instances of the service reach the marketplace over HTTP.
Every route authenticates the caller and asks RBAC before it acts: reading the catalog is
``list marketplacelistings``; what concerns a tenant is asked on the tenant's namespace with the
service's own resource names (``purchases``, ``reviews``; ``purchases/approval`` and
``purchases/refund`` for operators), which Roles grant like any other (docs/api-http.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from adx_modules.api.listing import LISTING
from adx_modules.api.meta import GROUP
from adx_modules.api.module import MODULE
from adx_modules.marketplace.activities.sync import recent_rounds
from adx_modules.marketplace.purchases import Key, PaymentMethod
from adx_modules.marketplace.reviews import ReviewInput
from adx_modules.marketplace.search import SearchQuery
from adx_modules.web.problems import BadRequestError
from adx_modules.web.services import Authenticated, Using
from adx_modules.web.tenants import namespace_of, same_user

router = APIRouter(prefix="/api/v1")
CATALOG = ""  # cluster-scoped: the namespace of a review of the catalog
SORTS = {"relevance", "rating", "downloads", "newest", "name", "price"}


class SearchRequest(SearchQuery):
    """The service's search request: ``query`` (or ``text``), ``sort_by`` as the reference
    writes it (``"Rating"``) or lower case, categories in any case."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    query: Annotated[str, Field(max_length=200)] = ""
    sort_by: str | None = None

    def as_query(self) -> SearchQuery:
        sort = (self.sort_by or self.sort).lower()
        if sort not in SORTS:
            raise BadRequestError(
                f"sort_by: {self.sort_by!r} is not one of {', '.join(sorted(SORTS))}"
            )
        fields = self.model_dump(exclude={"query", "sort_by"})
        fields.update(
            text=self.query or self.text,
            sort=sort,
            categories=[c.lower() for c in self.categories],
        )
        return SearchQuery.model_validate(fields)


class PurchaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: str
    listing: str
    payment_method: PaymentMethod
    user_id: str | None = None
    idempotency_key: Key | None = None


class ReviewBody(ReviewInput):
    tenant_id: str
    user_id: str | None = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500)] = ""


@router.post("/marketplace/search")
async def search(body: SearchRequest, caller: Authenticated, using: Using) -> dict[str, Any]:
    await using.authority.authorize(caller, "list", LISTING.plural, CATALOG)
    page = await using.search.search(body.as_query())
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/marketplace/featured")
async def featured(
    caller: Authenticated, using: Using, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> dict[str, Any]:
    await using.authority.authorize(caller, "list", LISTING.plural, CATALOG)
    return {"items": await using.search.featured(limit)}


@router.get("/marketplace/listings")
async def listings(
    caller: Authenticated,
    using: Using,
    module_id: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    """The MarketplaceListings and the Modules they offer, as objects (what a remote
    marketplace's sync pulls), read with the caller's own identity."""
    await using.authority.authorize(caller, "list", LISTING.plural, CATALOG)
    await using.authority.authorize(caller, "list", MODULE.plural, CATALOG)
    acting = using.kube.impersonating(caller.user, caller.groups)
    selector = f"spec.module={module_id}" if module_id else None
    found = await acting.list_custom(LISTING, field_selector=selector)
    offered = {str((body.get("spec") or {}).get("module")) for body in found}
    modules = [
        body
        for body in await acting.list_custom(MODULE)
        if (body.get("spec") or {}).get("moduleId") in offered
    ]
    return {"listings": [_portable(b) for b in found], "modules": [_portable(b) for b in modules]}


def _portable(body: dict[str, Any]) -> dict[str, Any]:
    """An object as another cluster can apply it: kind, name, labels, spec (and the status a
    reader may show); nothing of this cluster's bookkeeping (uid, resourceVersion, ...)."""
    metadata = body.get("metadata") or {}
    return {
        "apiVersion": body.get("apiVersion", f"{GROUP}/v1alpha1"),
        "kind": body.get("kind"),
        "metadata": {"name": metadata.get("name"), "labels": metadata.get("labels") or {}},
        "spec": body.get("spec") or {},
        "status": body.get("status") or {},
    }


@router.get("/marketplace/sync")
async def sync_rounds(
    caller: Authenticated, using: Using, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    """The latest rounds of the remote marketplace's sync: what each did, or why it failed."""
    await using.authority.authorize(caller, "list", LISTING.plural, CATALOG)
    return {"rounds": await recent_rounds(using.store, limit)}


@router.get("/marketplace/modules/{module_id}/reviews")
async def reviews_of(
    module_id: str,
    caller: Authenticated,
    using: Using,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: int | None = None,
) -> dict[str, Any]:
    await using.authority.authorize(caller, "list", LISTING.plural, CATALOG)
    rating = await using.reviews.rating(module_id)
    return {
        "module_id": module_id,
        "rating_average": rating.average,
        "rating_count": rating.count,
        "reviews": await using.reviews.of_module(module_id, limit=limit, before=before),
    }


@router.post("/marketplace/modules/{module_id}/reviews", status_code=201)
async def write_review(
    module_id: str, body: ReviewBody, caller: Authenticated, using: Using
) -> dict[str, Any]:
    tenant = namespace_of(body.tenant_id)
    user = same_user(caller, body.user_id)
    await using.authority.authorize(caller, "create", "reviews", tenant)
    review = ReviewInput.model_validate(body.model_dump(include={"rating", "title", "body"}))
    return await using.reviews.write(module_id, tenant, user, review)


@router.put("/marketplace/reviews/{review_id}")
async def edit_review(
    review_id: int, body: ReviewBody, caller: Authenticated, using: Using
) -> dict[str, Any]:
    tenant = namespace_of(body.tenant_id)
    user = same_user(caller, body.user_id)
    await using.authority.authorize(caller, "update", "reviews", tenant)
    review = ReviewInput.model_validate(body.model_dump(include={"rating", "title", "body"}))
    return await using.reviews.edit(review_id, tenant, user, review)


@router.delete("/marketplace/reviews/{review_id}", status_code=204)
async def delete_review(
    review_id: int, tenant_id: str, caller: Authenticated, using: Using
) -> None:
    tenant = namespace_of(tenant_id)
    await using.authority.authorize(caller, "delete", "reviews", tenant)
    await using.reviews.delete(review_id, tenant, caller.user)


@router.get("/tenants/{tenant_id}/recommendations")
async def recommendations(
    tenant_id: str,
    caller: Authenticated,
    using: Using,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    tenant = namespace_of(tenant_id)
    await using.authority.authorize(caller, "list", "moduleinstallations", tenant)
    return {"tenant_id": tenant, "items": await using.recommendations.for_tenant(tenant, limit)}


@router.post("/marketplace/purchase", status_code=202)
async def purchase(
    body: PurchaseBody,
    caller: Authenticated,
    using: Using,
    idempotency_key: Annotated[Key | None, Header()] = None,
) -> dict[str, Any]:
    """Start a purchase (or find the one this key started): 202, and where to follow it."""
    tenant = namespace_of(body.tenant_id)
    user = same_user(caller, body.user_id)
    key = idempotency_key or body.idempotency_key
    if not key:
        raise BadRequestError(
            "idempotency_key: give one (the body's field or an Idempotency-Key header)"
        )
    await using.authority.authorize(caller, "create", "purchases", tenant)
    record = await using.purchases.purchase(
        tenant=tenant,
        user=user,
        listing=body.listing,
        payment_method=body.payment_method,
        idempotency_key=key,
    )
    answer = await using.purchases.view(record.id)
    answer["status_url"] = f"/api/v1/marketplace/purchases/{record.id}"
    return answer


async def _tenant_of(using: Using, purchase_id: str) -> str:
    return str((await using.purchases.view(purchase_id))["tenant_id"])


@router.get("/marketplace/purchases/{purchase_id}")
async def purchase_status(purchase_id: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant = await _tenant_of(using, purchase_id)
    await using.authority.authorize(caller, "get", "purchases", tenant)
    return await using.purchases.view(purchase_id)


@router.post("/marketplace/purchases/{purchase_id}/{decision}")
async def decide(
    purchase_id: str,
    decision: Literal["approve", "reject", "refund"],
    body: Decision,
    caller: Authenticated,
    using: Using,
) -> dict[str, Any]:
    """An operator's decision: approve or reject an invoice, refund a purchase."""
    tenant = await _tenant_of(using, purchase_id)
    subresource = "refund" if decision == "refund" else "approval"
    await using.authority.authorize(caller, "update", f"purchases/{subresource}", tenant)
    if decision == "refund":
        await using.purchases.refund(purchase_id, actor=caller.user, reason=body.reason)
    else:
        await using.purchases.decide(
            purchase_id, approver=caller.user, approve=decision == "approve"
        )
    return await using.purchases.view(purchase_id)
