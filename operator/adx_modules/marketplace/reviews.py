"""Reviews and ratings: one review per user per tenant per module, written only by a tenant that
runs the module, edited and deleted by its author alone, with the rating aggregates updated in the
same transaction.

Why it exists: ratings rank and filter search, so they must be honest and exact. Who may review
is decided here, from the read model's installations (an Active installation of the module in
the reviewer's tenant); a user writes at most ``MAX_PER_HOUR`` reviews an hour; each change moves
the module's sum and count (``market_ratings``) and its listings' ``rating_average`` and
``rating_count`` in the transaction that changes the review, so no reader sees one without the
other. The caller (the HTTP API) names the tenant and the user it authenticated; nothing here
trusts a body for them. The listings' CR status follows after the commit (``ratingAverage``,
``ratingCount``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from adx_modules.api.listing import LISTING
from adx_modules.clients.errors import ClientError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store

MAX_PER_HOUR = 10
# a connection of the store's pool (asyncpg hands out proxies of its connections)
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
AGGREGATES = """
INSERT INTO market_ratings (module_id, rating_sum, rating_count) VALUES ($1, $2, $3)
ON CONFLICT (module_id) DO UPDATE
SET rating_sum = market_ratings.rating_sum + $2, rating_count = market_ratings.rating_count + $3
RETURNING rating_sum, rating_count"""
ON_LISTINGS = """
UPDATE market_listings SET rating_count = $2,
    rating_average = CASE WHEN $2 > 0 THEN round(($3::numeric / $2), 2) END
WHERE module_id = $1 RETURNING name"""


class ReviewInput(BaseModel):
    """What a reviewer writes."""

    model_config = ConfigDict(extra="forbid")

    rating: Annotated[int, Field(ge=1, le=5)]
    title: Annotated[str, Field(max_length=120)] = ""
    body: Annotated[str, Field(max_length=4000)] = ""


class ReviewError(Exception):
    """A review refused: ``code`` is the HTTP status it means (403, 404, 409, 429)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


@dataclass(frozen=True)
class Rating:
    average: float | None
    count: int


def _review(row: asyncpg.Record | None) -> dict[str, Any]:
    answer = dict(row or {})
    for key in ("created_at", "updated_at"):
        if isinstance(answer.get(key), datetime):
            answer[key] = answer[key].isoformat()
    return answer


class Reviews:
    """The reviews of the marketplace's modules."""

    def __init__(self, store: Store, kube: KubeClient | None = None) -> None:
        self._store = store
        self._kube = kube

    async def _moved(
        self, connection: Connection, module_id: str, delta_sum: int, delta_count: int
    ) -> tuple[Rating, list[str]]:
        moved = await connection.fetchrow(AGGREGATES, module_id, delta_sum, delta_count)
        total, count = (moved["rating_sum"], moved["rating_count"]) if moved else (0, 0)
        listings = [r[0] for r in await connection.fetch(ON_LISTINGS, module_id, count, total)]
        return Rating(round(total / count, 2) if count else None, count), listings

    async def _publish(self, listings: list[str], rating: Rating) -> None:
        """The listings' CR status follows the committed aggregate (best effort: the next
        review or the projection's rebuild writes it again)."""
        if self._kube is None:
            return
        for name in listings:
            try:
                await self._kube.patch_status(
                    LISTING, name, {"ratingAverage": rating.average, "ratingCount": rating.count}
                )
            except ClientError:
                continue

    async def write(
        self, module_id: str, tenant: str, user: str, review: ReviewInput
    ) -> dict[str, Any]:
        """A new review; ReviewError when the tenant does not run the module (403), the user
        reviewed it already in this tenant (409: edit that one), or wrote too many lately (429)."""
        async with self._store.pool.acquire() as connection, connection.transaction():
            runs_it = await connection.fetchval(
                "SELECT 1 FROM market_installations WHERE namespace = $1 AND module_id = $2 "
                "AND phase = 'Active' LIMIT 1",
                tenant,
                module_id,
            )
            if not runs_it:
                raise ReviewError(
                    403,
                    "NotInstalled",
                    f"tenant {tenant} has no Active installation of {module_id}: only a tenant "
                    "that runs a module may review it",
                )
            lately = await connection.fetchval(
                "SELECT count(*) FROM market_reviews WHERE tenant = $1 AND user_id = $2 "
                "AND created_at > now() - interval '1 hour'",
                tenant,
                user,
            )
            if lately >= MAX_PER_HOUR:
                raise ReviewError(
                    429, "TooManyReviews", f"at most {MAX_PER_HOUR} reviews an hour per user"
                )
            try:
                row = await connection.fetchrow(
                    "INSERT INTO market_reviews (module_id, tenant, user_id, rating, title, body) "
                    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                    module_id,
                    tenant,
                    user,
                    review.rating,
                    review.title,
                    review.body,
                )
            except asyncpg.UniqueViolationError:
                raise ReviewError(
                    409,
                    "AlreadyReviewed",
                    f"{user} reviewed {module_id} in tenant {tenant} already: edit that review",
                ) from None
            rating, listings = await self._moved(connection, module_id, review.rating, 1)
        await self._publish(listings, rating)
        return _review(row)

    async def _own(
        self, connection: Connection, review_id: int, tenant: str, user: str
    ) -> asyncpg.Record:
        row = await connection.fetchrow(
            "SELECT * FROM market_reviews WHERE id = $1 FOR UPDATE", review_id
        )
        if row is None or (row["tenant"], row["user_id"]) != (tenant, user):
            # another's review is answered as no review: its existence is not the caller's
            raise ReviewError(404, "NoSuchReview", f"no review {review_id} of yours")
        return row

    async def edit(
        self, review_id: int, tenant: str, user: str, review: ReviewInput
    ) -> dict[str, Any]:
        """Change one's own review; the aggregates move by the difference."""
        async with self._store.pool.acquire() as connection, connection.transaction():
            old = await self._own(connection, review_id, tenant, user)
            row = await connection.fetchrow(
                "UPDATE market_reviews SET rating = $2, title = $3, body = $4, updated_at = now() "
                "WHERE id = $1 RETURNING *",
                review_id,
                review.rating,
                review.title,
                review.body,
            )
            rating, listings = await self._moved(
                connection, old["module_id"], review.rating - old["rating"], 0
            )
        await self._publish(listings, rating)
        return _review(row)

    async def delete(self, review_id: int, tenant: str, user: str) -> None:
        async with self._store.pool.acquire() as connection, connection.transaction():
            old = await self._own(connection, review_id, tenant, user)
            await connection.execute("DELETE FROM market_reviews WHERE id = $1", review_id)
            rating, listings = await self._moved(connection, old["module_id"], -old["rating"], -1)
        await self._publish(listings, rating)

    async def of_module(
        self, module_id: str, *, limit: int = 20, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest reviews first; ``before``: the id of the last one seen (keyset pages)."""
        rows = await self._store.pool.fetch(
            "SELECT * FROM market_reviews WHERE module_id = $1 AND ($2::bigint IS NULL OR id < $2)"
            " ORDER BY id DESC LIMIT $3",
            module_id,
            before,
            max(1, min(limit, 100)),
        )
        return [_review(r) for r in rows]

    async def rating(self, module_id: str) -> Rating:
        row = await self._store.pool.fetchrow(
            "SELECT rating_sum, rating_count FROM market_ratings WHERE module_id = $1", module_id
        )
        if row is None or not row["rating_count"]:
            return Rating(None, 0)
        return Rating(round(row["rating_sum"] / row["rating_count"], 2), row["rating_count"])
