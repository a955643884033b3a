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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
RECORD_USAGE = """
INSERT INTO market_usage (tenant, module_id, installation, kind) VALUES ($1, $2, $3, $4)
ON CONFLICT (installation, kind) DO NOTHING"""
REFRESH = """
UPDATE market_listings SET latest_version = $2, runtime = $3,
    installs = (SELECT count(*) FROM market_installations
                WHERE module_id = $1 AND phase = 'Active'),
    rating_count = coalesce(r.rating_count, 0),
    rating_average = CASE WHEN r.rating_count > 0
        THEN round(r.rating_sum::numeric / r.rating_count, 2) END
FROM (SELECT $1::text AS id) m
LEFT JOIN market_ratings r ON r.module_id = m.id
WHERE market_listings.module_id = $1"""


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


@dataclass(frozen=True)
class Projected:
    """How one kind is kept: its table, the key of a row, its row, and its module's field."""

    table: str
    key: str  # the column; "uid" (uuid) or "name"
    upsert: str
    row: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    module_field: str  # in the object's spec

    def key_of(self, body: Mapping[str, Any]) -> str:
        return str(body["metadata"][self.key])

    def module_of(self, body: Mapping[str, Any]) -> str:
        return str((body.get("spec") or {}).get(self.module_field, ""))

    @property
    def key_type(self) -> str:
        return "uuid" if self.key == "uid" else "text"


KINDS = {
    LISTING.kind: Projected("market_listings", "name", UPSERT_LISTING, listing_row, "module"),
    MODULE.kind: Projected("market_modules", "name", UPSERT_MODULE, module_row, "moduleId"),
    INSTALLATION.kind: Projected(
        "market_installations", "uid", UPSERT_INSTALLATION, installation_row, "module"
    ),
}


class CatalogProjection:
    """The three kinds, listed then watched, into the marketplace tables."""

    def __init__(self, kube: KubeClient, store: Store, *, analytics: bool = False) -> None:
        self._kube = kube
        self._store = store
        self._analytics = analytics
        # the three kinds' followers write one at a time: a refresh of every listing beside a
        # refresh of one takes the same rows in other orders (PostgreSQL found deadlocks)
        self._writing = asyncio.Lock()

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
        async with self._writing:
            await self._replace(kind, items)

    async def _replace(self, kind: KindInfo, items: list[dict[str, Any]]) -> None:
        projected = KINDS[kind.kind]
        async with self._store.pool.acquire() as connection, connection.transaction():
            await connection.executemany(projected.upsert, [projected.row(b) for b in items])
            await connection.execute(
                f"DELETE FROM {projected.table} WHERE NOT "  # noqa: S608 - names of ours
                f"({projected.key} = ANY($1::{projected.key_type}[]))",
                [projected.key_of(b) for b in items],
            )
        await self.refresh(None)

    async def apply(self, kind: KindInfo, event: str, body: Mapping[str, Any]) -> None:
        """One watch event: the object's row written or deleted, its module's listings
        refreshed."""
        async with self._writing:
            await self._apply(kind, event, body)

    async def _apply(self, kind: KindInfo, event: str, body: Mapping[str, Any]) -> None:
        projected = KINDS[kind.kind]
        if event == "DELETED":
            await self._store.pool.execute(
                f"DELETE FROM {projected.table} "  # noqa: S608 - names of ours
                f"WHERE {projected.key} = $1::{projected.key_type}",
                projected.key_of(body),
            )
        else:
            await self._store.pool.execute(projected.upsert, *projected.row(body))
        if self._analytics and kind.kind == INSTALLATION.kind:
            await self._record_usage(event, body)
        await self.refresh([projected.module_of(body)])

    async def _record_usage(self, event: str, body: Mapping[str, Any]) -> None:
        """An installation that became Active is an install, one deleted an uninstall (once
        each: the event is keyed by the installation)."""
        phase = (body.get("status") or {}).get("phase")
        kind = "uninstall" if event == "DELETED" else "install" if phase == "Active" else None
        if kind is None:
            return
        _, tenant, module_id, _ = installation_row(body)
        await self._store.pool.execute(
            RECORD_USAGE, tenant, module_id, body["metadata"]["uid"], kind
        )

    async def refresh(self, module_ids: list[str] | None) -> None:
        """Write onto the listings of ``module_ids`` (None: every listed module) their module's
        latest Available version and runtime, their Active installations and their ratings
        (kept by reviews.py: a rebuilt table gets them back). The versions are read in one
        query, the listings updated in one batch."""
        pool = self._store.pool
        if module_ids is None:
            listed = await pool.fetch("SELECT DISTINCT module_id FROM market_listings")
            module_ids = [r[0] for r in listed]
            versions = await pool.fetch(
                "SELECT module_id, version, runtime, phase FROM market_modules"
            )
        else:
            versions = await pool.fetch(
                "SELECT module_id, version, runtime, phase FROM market_modules "
                "WHERE module_id = ANY($1::text[])",
                module_ids,
            )
        by_module: dict[str, list[tuple[str, str, str | None]]] = {}
        for row in versions:
            by_module.setdefault(row[0], []).append((row[1], row[2], row[3]))
        updates = []
        for module_id in sorted(set(module_ids)):  # one order of row locks, always
            latest = latest_available(by_module.get(module_id, []))
            updates.append((module_id, *(latest or (None, None))))
        await pool.executemany(REFRESH, updates)
