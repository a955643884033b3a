"""The marketplace's read model: listings, Module versions and installations copied from the
apiserver into PostgreSQL, kept in step by a watch.

Why it exists: search, featured lists and (later) recommendations need ranked, filtered queries
over many listings, which the apiserver cannot answer; PostgreSQL can (db/migrations/
007_marketplace.sql). The CRs stay the truth: each kind is listed (every row replaced, rows of
objects that are gone deleted: a lost table is rebuilt so), then watched from the list's
resourceVersion, each event an upsert or a delete; a watch that expired lists again. What a
listing is searched and sorted by but does not say itself (its module's latest Available version
and runtime, its Active installations) is written onto its row whenever a Module or an
installation of its module changes. One projector runs at a time (a PostgreSQL advisory lock):
any worker may hold it, another takes over when it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.listing import LISTING
from adx_modules.api.meta import KindInfo
from adx_modules.api.module import MODULE
from adx_modules.catalog.resolver.constraints import parse_version
from adx_modules.clients.errors import ClientError, ExpiredError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store

LOG = logging.getLogger("adx_modules.marketplace")
# the projector's advisory lock, one per schema (a database may hold several services' schemas)
LOCK = "SELECT pg_try_advisory_lock(hashtext('adx-marketplace-projection:' || current_schema()))"
UNLOCK = "SELECT pg_advisory_unlock(hashtext('adx-marketplace-projection:' || current_schema()))"
RETRY_SECONDS = 5.0

UPSERT_LISTING = """
INSERT INTO market_listings (name, module_id, publisher, summary, description, categories,
    tags, keywords, pricing_model, price, currency, featured, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (name) DO UPDATE SET module_id = EXCLUDED.module_id,
    publisher = EXCLUDED.publisher, summary = EXCLUDED.summary,
    description = EXCLUDED.description, categories = EXCLUDED.categories, tags = EXCLUDED.tags,
    keywords = EXCLUDED.keywords, pricing_model = EXCLUDED.pricing_model,
    price = EXCLUDED.price, currency = EXCLUDED.currency, featured = EXCLUDED.featured,
    created_at = EXCLUDED.created_at"""
UPSERT_MODULE = """
INSERT INTO market_modules (name, module_id, version, runtime, phase, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO UPDATE SET module_id = EXCLUDED.module_id, version = EXCLUDED.version,
    runtime = EXCLUDED.runtime, phase = EXCLUDED.phase, created_at = EXCLUDED.created_at"""
UPSERT_INSTALLATION = """
INSERT INTO market_installations (uid, namespace, module_id, phase) VALUES ($1, $2, $3, $4)
ON CONFLICT (uid) DO UPDATE SET namespace = EXCLUDED.namespace,
    module_id = EXCLUDED.module_id, phase = EXCLUDED.phase"""
TABLES = {"MarketplaceListing": "market_listings", "Module": "market_modules"}


def _created(body: Mapping[str, Any]) -> str:
    return str(body.get("metadata", {}).get("creationTimestamp") or "1970-01-01T00:00:00Z")


def _price(amount: Any) -> Decimal | None:
    try:
        return Decimal(str(amount)) if amount not in (None, "") else None
    except InvalidOperation:
        return None


def listing_row(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """A MarketplaceListing as its market_listings row (the columns of UPSERT_LISTING)."""
    spec = body.get("spec") or {}
    pricing = spec.get("pricing") or {}
    categories = [str(c) for c in spec.get("categories") or []]
    tags = [str(t) for t in spec.get("tags") or []]
    return (
        body["metadata"]["name"],
        str(spec.get("module", "")),
        str((spec.get("publisher") or {}).get("name", "")),
        str(spec.get("summary", "")),
        str(spec.get("description", "")),
        categories,
        tags,
        " ".join(tags + categories),
        str(pricing.get("model", "free")),
        _price(pricing.get("amount")),
        pricing.get("currency"),
        bool(spec.get("featured", False)),
        _timestamp(_created(body)),
    )


def module_row(body: Mapping[str, Any]) -> tuple[Any, ...]:
    spec = body.get("spec") or {}
    return (
        body["metadata"]["name"],
        str(spec.get("moduleId", "")),
        str(spec.get("version", "")),
        str(spec.get("runtime", "")),
        (body.get("status") or {}).get("phase"),
        _timestamp(_created(body)),
    )


def installation_row(body: Mapping[str, Any]) -> tuple[Any, ...]:
    metadata = body["metadata"]
    return (
        metadata["uid"],
        metadata.get("namespace", ""),
        str((body.get("spec") or {}).get("module", "")),
        (body.get("status") or {}).get("phase"),
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def latest_available(versions: Iterable[tuple[str, str, str | None]]) -> tuple[str, str] | None:
    """(version, runtime) of the highest Available one of (version, runtime, phase)."""
    available = [
        (parse_version(v), v, runtime) for v, runtime, phase in versions if phase == "Available"
    ]
    if not available:
        return None
    _, version, runtime = max(available)
    return version, runtime


class CatalogProjection:
    """The three kinds, listed then watched, into the marketplace tables."""

    def __init__(self, kube: KubeClient, store: Store) -> None:
        self._kube = kube
        self._store = store

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set, while holding the projector's lock."""
        async with self._store.pool.acquire() as holder:
            while not await holder.fetchval(LOCK):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 10)
                if stop.is_set():
                    return
            followers = [
                asyncio.create_task(self._follow(kind)) for kind in (LISTING, MODULE, INSTALLATION)
            ]
            try:
                await stop.wait()
            finally:
                for task in followers:
                    task.cancel()
                await asyncio.gather(*followers, return_exceptions=True)
                await holder.execute(UNLOCK)

    async def _follow(self, kind: KindInfo) -> None:
        while True:
            try:
                items, version = await self._kube.snapshot(kind)
                await self.replace(kind, items)
                while True:
                    async for event, body in self._kube.watch_custom(kind, version):
                        version = str(body.get("metadata", {}).get("resourceVersion") or version)
                        if event != "BOOKMARK":
                            await self.apply(kind, event, body)
            except ExpiredError:
                continue  # list again
            except (ClientError, asyncpg.PostgresError, OSError) as error:
                LOG.warning("projecting %s: %s; again in %ss", kind.plural, error, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)

    async def replace(self, kind: KindInfo, items: list[dict[str, Any]]) -> None:
        """Every row of ``kind`` from a list: upserted, the rows of what is gone deleted."""
        async with self._store.pool.acquire() as connection, connection.transaction():
            if kind is INSTALLATION:
                await connection.executemany(
                    UPSERT_INSTALLATION, [installation_row(b) for b in items]
                )
                kept = [b["metadata"]["uid"] for b in items]
                await connection.execute(
                    "DELETE FROM market_installations WHERE NOT (uid = ANY($1::uuid[]))", kept
                )
            else:
                table = TABLES[kind.kind]
                rows = [listing_row(b) if kind is LISTING else module_row(b) for b in items]
                await connection.executemany(
                    UPSERT_LISTING if kind is LISTING else UPSERT_MODULE, rows
                )
                kept = [b["metadata"]["name"] for b in items]
                await connection.execute(
                    f"DELETE FROM {table} WHERE NOT (name = ANY($1::text[]))",  # noqa: S608
                    kept,
                )
        await self.refresh(None)

    async def apply(self, kind: KindInfo, event: str, body: Mapping[str, Any]) -> None:
        """One watch event: the object's row written or deleted, its module's listings
        refreshed."""
        metadata = body.get("metadata", {})
        if kind is INSTALLATION:
            module_id = str((body.get("spec") or {}).get("module", ""))
            if event == "DELETED":
                await self._store.pool.execute(
                    "DELETE FROM market_installations WHERE uid = $1::uuid", metadata["uid"]
                )
            else:
                await self._store.pool.execute(UPSERT_INSTALLATION, *installation_row(body))
        elif kind is MODULE:
            module_id = str((body.get("spec") or {}).get("moduleId", ""))
            if event == "DELETED":
                await self._store.pool.execute(
                    "DELETE FROM market_modules WHERE name = $1", metadata["name"]
                )
            else:
                await self._store.pool.execute(UPSERT_MODULE, *module_row(body))
        else:
            module_id = str((body.get("spec") or {}).get("module", ""))
            if event == "DELETED":
                await self._store.pool.execute(
                    "DELETE FROM market_listings WHERE name = $1", metadata["name"]
                )
                return
            await self._store.pool.execute(UPSERT_LISTING, *listing_row(body))
        await self.refresh([module_id])

    async def refresh(self, module_ids: list[str] | None) -> None:
        """Write onto the listings of ``module_ids`` (None: every module) their module's latest
        Available version and runtime, their Active installations and their ratings (kept by
        reviews.py: a rebuilt table gets them back)."""
        pool = self._store.pool
        if module_ids is None:
            module_ids = [
                r[0] for r in await pool.fetch("SELECT DISTINCT module_id FROM market_listings")
            ]
        for module_id in module_ids:
            versions = await pool.fetch(
                "SELECT version, runtime, phase FROM market_modules WHERE module_id = $1", module_id
            )
            latest = latest_available((r[0], r[1], r[2]) for r in versions)
            await pool.execute(
                """UPDATE market_listings SET latest_version = $2, runtime = $3,
                       installs = (SELECT count(*) FROM market_installations
                                   WHERE module_id = $1 AND phase = 'Active'),
                       rating_count = coalesce(r.rating_count, 0),
                       rating_average = CASE WHEN r.rating_count > 0
                           THEN round(r.rating_sum::numeric / r.rating_count, 2) END
                   FROM (SELECT $1::text AS id) m
                   LEFT JOIN market_ratings r ON r.module_id = m.id
                   WHERE market_listings.module_id = $1""",
                module_id,
                latest[0] if latest else None,
                latest[1] if latest else None,
            )
