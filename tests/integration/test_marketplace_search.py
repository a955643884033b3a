"""Marketplace search on the real apiserver and PostgreSQL: listings, Modules and installations
are projected from their CRs by the worker's own projection (list, then watch), and searched:
relevance by where the words are, a typo, each filter, each sort, featured, pages that neither
skip nor repeat while listings are added, installs that follow installations, and a lost table
rebuilt from the CRs.

Module phases are written through the status subresource here (no operator runs in these
tests), ratings into the read model (the reviews that produce them are not built yet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.listing import LISTING
from adx_modules.api.module import MODULE
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.marketplace.projection import CatalogProjection
from adx_modules.marketplace.search import InvalidCursorError, MarketplaceSearch, SearchQuery
from support.objects import installation_doc, listing_doc, module_doc


@pytest.fixture
def store(migrated: Store) -> Store:
    return migrated


@pytest.fixture
async def projection(kube: KubeClient, store: Store) -> AsyncIterator[CatalogProjection]:
    projected = CatalogProjection(kube, store)
    stop = asyncio.Event()
    task = asyncio.create_task(projected.run(stop))
    yield projected
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> Any:
    last: Any = None
    for _ in range(int(seconds * 10)):
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds}s: {last!r}")


async def publish(
    kube: KubeClient,
    module_id: str,
    listing: dict[str, Any],
    *,
    versions: tuple[str, ...] = ("1.0.0",),
    phase: str = "Available",
    runtime: str = "container",
) -> None:
    for version in versions:
        doc = module_doc(module_id, version)
        if runtime == "wasm":
            doc["spec"]["runtime"] = "wasm"
            doc["spec"]["artifact"] = {"wasm": {"url": f"https://example.com/{module_id}.wasm"}}
        await kube.apply_custom(MODULE, doc)
        await kube.patch_status(MODULE, doc["metadata"]["name"], {"phase": phase})
    await kube.apply_custom(LISTING, listing_doc(module_id, **listing))


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["module_id"] for item in items]


async def test_search_ranks_filters_sorts_and_tolerates_a_typo(
    kube: KubeClient, store: Store, projection: CatalogProjection, unique: str, namespace: str
) -> None:
    pub = {"name": f"Pub {unique}"}
    board, reports, mailer, ghost = (
        f"analytics-{unique}",
        f"reports-{unique}",
        f"mailer-{unique}",
        f"ghost-{unique}",
    )
    await publish(
        kube,
        board,
        {
            "publisher": pub,
            "summary": "Dashboards for sales data",
            "categories": ["analytics"],
            "tags": ["charts"],
            "pricing": {
                "model": "subscription",
                "amount": "29",
                "currency": "EUR",
                "period": "monthly",
            },
            "featured": True,
        },
        versions=("1.0.0", "1.2.0", "1.10.0"),
    )
    await asyncio.sleep(1.1)  # creation times a second apart: "newest" is by them
    await publish(
        kube,
        reports,
        {
            "publisher": pub,
            "summary": "Weekly analytics reports by email",
            "categories": ["analytics", "productivity"],
            "tags": ["email"],
            "pricing": {"model": "free"},
        },
        runtime="wasm",
    )
    await asyncio.sleep(1.1)
    await publish(
        kube,
        mailer,
        {
            "publisher": pub,
            "summary": "Send mail",
            "description": "Includes analytics of open rates.",
            "categories": ["communication"],
            "pricing": {"model": "one-time", "amount": "10", "currency": "EUR"},
        },
    )
    await publish(
        kube,
        ghost,
        {"publisher": pub, "summary": "analytics, never available", "pricing": {"model": "free"}},
        phase="Rejected",
    )
    for index in range(2):
        doc = installation_doc(f"mail-{index}", mailer)
        doc["metadata"]["namespace"] = namespace
        created = await kube.apply_custom(INSTALLATION, doc)
        await kube.patch_status(
            INSTALLATION, created["metadata"]["name"], {"phase": "Active"}, namespace
        )
    search = MarketplaceSearch(store)

    async def find(**asked: Any) -> list[str]:
        page = await search.search(SearchQuery(publisher=pub["name"], **asked))
        return names(page.items)

    # the projection follows: installs of the mailer counted as its installations went Active
    await eventually(lambda: _installs(store, mailer, 2))
    # relevance: the name (A) before the summary (B) before the description (C); a Module never
    # Available is not installable, so not found
    assert await find(text="analytics") == [board, reports, mailer]
    assert await find(text="analytcs") == [board]  # a typo of the name still finds it
    assert await find(text="weekly email") == [reports]
    # filters
    assert await find(categories=["productivity"]) == [reports]
    assert await find(tags=["charts"]) == [board]
    assert sorted(await find(pricing_models=["free", "one-time"])) == sorted([reports, mailer])
    assert sorted(await find(price_max="15")) == sorted([reports, mailer])
    assert await find(price_min="20") == [board]
    assert await find(runtime="wasm") == [reports]
    assert await find(text="analytics", categories=["communication"]) == [mailer]
    await store.pool.execute(
        "UPDATE market_listings SET rating_average = $2, rating_count = $3 WHERE module_id = $1",
        reports,
        4.5,
        12,
    )
    assert await find(min_rating=4) == [reports]
    # sorts
    assert await find(sort="name") == sorted([board, reports, mailer])
    assert await find(sort="newest") == [mailer, reports, board]
    assert await find(sort="downloads") == [mailer, *sorted([board, reports])]
    assert await find(sort="price") == [reports, mailer, board]
    assert (await find(sort="rating"))[0] == reports
    # words and another order: the matches, in that order
    assert await find(text="analytics", sort="price") == [reports, mailer, board]
    assert await find(text="analytics", sort="downloads") == [mailer, *sorted([board, reports])]
    # what a listing shows: its module's highest Available version (semantic, not text order)
    page = await search.search(SearchQuery(publisher=pub["name"], text="dashboards"))
    assert page.items[0]["latest_version"] == "1.10.0"
    assert page.items[0]["price"] == "29.00"
    # featured: the curated one first
    featured = names(await search.featured(limit=100))
    assert featured.index(board) < min(featured.index(reports), featured.index(mailer))
    with pytest.raises(InvalidCursorError, match="not a cursor"):
        await search.search(SearchQuery(cursor="garbage"))


async def _installs(store: Store, module_id: str, wanted: int) -> bool:
    found = await store.pool.fetchval(
        "SELECT installs FROM market_listings WHERE module_id = $1", module_id
    )
    return bool(found == wanted)


async def test_pages_neither_skip_nor_repeat_while_listings_are_added_and_a_lost_table_is_rebuilt(
    kube: KubeClient, store: Store, projection: CatalogProjection, unique: str
) -> None:
    pub = {"name": f"Bulk {unique}"}
    listing = {"publisher": pub, "summary": "bulk", "pricing": {"model": "free"}}
    first = [f"b{index:02d}-{unique}" for index in range(0, 40, 2)]  # b00, b02, ... b38
    for module_id in first:
        await publish(kube, module_id, listing)
    search = MarketplaceSearch(store)

    async def counted() -> bool:
        page = await search.search(SearchQuery(publisher=pub["name"], page_size=100))
        return len(page.items) == len(first)

    await eventually(counted)
    seen: list[str] = []
    added: list[str] = []
    cursor = None
    for step in range(100):
        page = await search.search(
            SearchQuery(publisher=pub["name"], sort="name", page_size=6, cursor=cursor)
        )
        seen += names(page.items)
        # meanwhile, listings are added both before and after the page just read
        for module_id in (f"b{2 * step + 1:02d}-{unique}", f"a{step:02d}-{unique}"):
            await publish(kube, module_id, listing)
            added.append(module_id)
        await asyncio.sleep(0.3)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a listing was repeated"
    assert set(first) <= set(seen), f"skipped: {sorted(set(first) - set(seen))}"
    assert seen == sorted(seen)
    # by relevance to words, where every listing ranks the same: the cursor's rank compares
    # equal, so the name decides and again nothing is skipped or repeated
    present = set(seen) | set(added)
    ranked: list[str] = []
    cursor = None
    while True:
        page = await search.search(
            SearchQuery(publisher=pub["name"], text="bulk", page_size=7, cursor=cursor)
        )
        ranked += names(page.items)
        added.append(f"c{len(ranked):03d}-{unique}")
        await publish(kube, added[-1], listing)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(ranked) == len(set(ranked)), "a listing was repeated"
    assert present <= set(ranked)
    # the read model is a copy: lost, it is rebuilt from the CRs
    await store.pool.execute("DELETE FROM market_listings")
    await projection.replace(LISTING, await kube.list_custom(LISTING))
    everything = set(first) | set(added)

    async def rebuilt() -> bool:
        page = await search.search(SearchQuery(publisher=pub["name"], page_size=100))
        return set(names(page.items)) == everything

    await eventually(rebuilt)
