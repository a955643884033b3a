"""Benchmark: marketplace search at 100,000 listings (issue 13's figures), on a fresh stack.

The read model is filled by SQL with a seeded, generated catalog (the projection's cost is not
what is measured): module names, summaries, tags and descriptions drawn from a 3,000-word
vocabulary, plus three planted terms whose frequency is known: *rare* (in 10 listings),
*typical* (1 %) and *very common* (50 %). Measured, three runs each:

- ranked search (``MarketplaceSearch.search``, first page of 20) p50 / p99 per term class, 200
  queries each, one after another;
- beside it the plain PostgreSQL ranking of the same words (``ts_rank`` over every match,
  ``ORDER BY rank LIMIT 20``), the baseline the issue names, on a connection with PostgreSQL's
  defaults (parallel workers allowed: its best for a query that ranks 50,000 rows);
- featured (top 10) and a module's newest reviews (200,000 reviews in all) p99;
- mixed queries per second with 8 concurrent callers for 10 s (search of each class, featured,
  reviews), on the machine's 2 cores shared with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

import asyncpg  # noqa: E402
from bench_wasm import percentile, spread  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.marketplace.reviews import Reviews  # noqa: E402
from adx_modules.marketplace.search import MarketplaceSearch, SearchQuery  # noqa: E402

LISTINGS = 100_000
REVIEWS = 200_000
RUNS = 3
QUERIES = 200
MIXED_SECONDS = 10
CALLERS = 8
TERMS = {"rare": "zephyrine", "typical": "ledgerly", "very common": "platform"}
PLAIN = """
SELECT name, ts_rank(search, q) AS rank
FROM market_listings, websearch_to_tsquery('english', $1) q
WHERE search @@ q ORDER BY rank DESC, name LIMIT 20"""

GENERATE = """
SELECT setseed(0.42);
WITH words AS (SELECT array_agg('w' || lpad(n::text, 4, '0')) AS w FROM generate_series(1, 3000) n)
INSERT INTO market_listings (name, module_id, publisher, summary, description, categories, tags,
    keywords, pricing_model, price, currency, featured, created_at, latest_version, runtime,
    installs, rating_average, rating_count)
SELECT 'l-' || i, 'mod-' || i || '-' || w[1 + (random() * 2999)::int],
    'publisher ' || (i % 500),
    concat_ws(' ', w[1 + (random() ^ 2 * 2999)::int], w[1 + (random() ^ 2 * 2999)::int],
        w[1 + (random() * 2999)::int], w[1 + (random() * 2999)::int],
        CASE WHEN i % 2 = 0 THEN 'platform' END,
        CASE WHEN i % 100 = 7 THEN 'ledgerly' END,
        CASE WHEN i % 10000 = 13 THEN 'zephyrine' END),
    (SELECT string_agg(w[1 + (random() ^ 2 * 2999)::int + g * 0], ' ')
        FROM generate_series(1, 30 + i % 7) g),
    ARRAY['cat-' || (i % 12)], ARRAY[w[1 + (random() * 2999)::int], w[1 + (random() * 2999)::int]],
    '', CASE WHEN i % 3 = 0 THEN 'free' ELSE 'subscription' END,
    CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 90) + 9 END, 'EUR', i % 1000 = 0,
    now() - make_interval(secs => i), '1.0.0', CASE WHEN i % 4 = 0 THEN 'wasm' ELSE 'python' END,
    (1000 / (1 + (random() * 99)))::int, 1 + random() * 4, (random() * 50)::int
FROM generate_series(1, $LISTINGS) i, words;
UPDATE market_listings SET keywords = array_to_string(tags || categories, ' ');
INSERT INTO market_reviews (module_id, tenant, user_id, rating, title, body)
SELECT 'mod-' || (1 + (i % 5000)), 'tenant-' || (i % 97), 'user-' || i, 1 + i % 5, 'fine', 'ok'
FROM generate_series(1, $REVIEWS) i;
ANALYZE market_listings; ANALYZE market_reviews;
"""


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def mixed(store: Store) -> float:
    search, reviews = MarketplaceSearch(store), Reviews(store)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: search.search(SearchQuery(text=TERMS["typical"])),
        lambda: search.search(SearchQuery(text=TERMS["typical"])),
        lambda: search.search(SearchQuery(text=TERMS["typical"], categories=["cat-3"])),
        lambda: search.search(SearchQuery(text=TERMS["rare"])),
        lambda: search.search(SearchQuery(text=TERMS["very common"])),
        lambda: search.search(SearchQuery(sort="rating")),
        lambda: search.featured(10),
        lambda: reviews.of_module(f"mod-{random.randint(1, 5000)}"),  # noqa: S311
    ]
    done = 0
    deadline = time.perf_counter() + MIXED_SECONDS

    async def caller(seed: int) -> None:
        nonlocal done
        chooser = random.Random(seed)  # noqa: S311
        while time.perf_counter() < deadline:
            await chooser.choice(calls)()
            done += 1

    await asyncio.gather(*(caller(n) for n in range(CALLERS)))
    return done / MIXED_SECONDS


async def run(stack: DevStack) -> list[str]:
    env = stack.environment()
    async with await Store.connect(
        env["ADX_DATABASE_URL"], schema="bench_market", pool_size=CALLERS + 2
    ) as store:
        await store.pool.execute("CREATE SCHEMA IF NOT EXISTS bench_market")
        await store.migrate()
        started = time.perf_counter()
        sql = GENERATE.replace("$LISTINGS", str(LISTINGS)).replace("$REVIEWS", str(REVIEWS))
        async with store.pool.acquire() as connection:
            await connection.execute(sql)
        generated = time.perf_counter() - started
        search, reviews = MarketplaceSearch(store), Reviews(store)
        # the peer at its best: PostgreSQL's defaults, parallel workers allowed (the service's
        # pool turns them off for its short queries)
        peer = await asyncpg.connect(
            env["ADX_DATABASE_URL"], server_settings={"search_path": "bench_market"}
        )
        results: dict[str, list[float]] = {}
        for _ in range(RUNS):
            for label, term in TERMS.items():
                ours = await timed(lambda t=term: search.search(SearchQuery(text=t)), QUERIES)
                plain = await timed(lambda t=term: peer.fetch(PLAIN, t), QUERIES)
                for kind, times in (("ours", ours), ("plain", plain)):
                    for share in (0.5, 0.99):
                        results.setdefault(f"{label}/{kind}/{share}", []).append(
                            percentile(times, share)
                        )
            featured = await timed(lambda: search.featured(10), QUERIES)
            listed = await timed(lambda: reviews.of_module("mod-42"), QUERIES)
            results.setdefault("featured", []).append(percentile(featured, 0.99))
            results.setdefault("reviews", []).append(percentile(listed, 0.99))
            results.setdefault("mixed", []).append(await mixed(store))
        await peer.close()
    rows = [
        f"| generating {LISTINGS:,} listings and {REVIEWS:,} reviews (SQL, once) | "
        f"{generated:.1f} s |"
    ]
    for label, term in TERMS.items():
        ours = results[f"{label}/ours/0.5"], results[f"{label}/ours/0.99"]
        plain = results[f"{label}/plain/0.5"], results[f"{label}/plain/0.99"]
        ratio = statistics.median(plain[1]) / max(statistics.median(ours[1]), 1e-9)
        rows.append(
            f"| search, {label} term (`{term}`), first page of 20 | p50 {spread(ours[0], 'ms')}; "
            f"p99 {spread(ours[1], 'ms')} | plain ranking: p50 {spread(plain[0], 'ms')}; "
            f"p99 {spread(plain[1], 'ms')} | {ratio:.2f}x |"
        )
    rows += [
        f"| featured, top 10 | p99 {spread(results['featured'], 'ms')} | | |",
        f"| a module's newest reviews, 20 | p99 {spread(results['reviews'], 'ms')} | | |",
        f"| mixed queries, {CALLERS} concurrent callers, {MIXED_SECONDS} s | "
        f"{spread(results['mixed'], 'queries/s', 0)} | | |",
    ]
    return rows


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-market-"))
    with DevStack(work / "stack") as stack:
        rows = asyncio.run(run(stack))
    body = "\n".join(
        [
            "## Marketplace search",
            "",
            f"{machine()}; one fresh local stack; {LISTINGS:,} generated listings in the read "
            "model (a 3,000-word vocabulary, planted terms of known frequency), queried by "
            "`MarketplaceSearch` in this process over asyncpg. Beside each search, the plain "
            "PostgreSQL ranking of the same term (`ts_rank` over every match, sorted) on a "
            "connection with PostgreSQL's defaults, parallel workers allowed. "
            f"{RUNS} runs, min / median / max; the ratio is plain p99 over ours (median).",
            "",
            "| what | ours | plain PostgreSQL ranking | plain / ours |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
    )
    write_section("marketplace", body)
    print(body)


if __name__ == "__main__":
    main()
