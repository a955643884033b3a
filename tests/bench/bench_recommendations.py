"""Benchmark: recommendations, evaluated offline against popularity (issue 13), on a fresh stack.

A seeded data set is written into the read model: 2,000 listings — 1,000 in 40 "industries" of 25
(each industry's listings share a category family and draw tags from the industry's own words),
1,000 general ones — and 3,000 tenants, each of one industry (a fifth of them of two), with 3 to
9 installations: about 60 % from their industries (a skewed pick within each), the rest general
modules picked by a Zipf law, so what is popular everywhere is a real contender. One
installation of each of 600 tenants (of those with at least 4) is held out: it is not written,
and a recommendation list "hits" when its first 5 contain it.

Compared, on the same data, three seeds (three data sets): ``Recommendations.for_tenant`` and the
popularity baseline (the 5 listings with the most adopters the tenant does not have: the best a
recommender without usage can do). Hit rate at 5 overall, and split by what was held out (an
industry module, a general one), and the latency of ``for_tenant``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from bench_wasm import percentile, spread  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.marketplace.recommendations import Recommendations  # noqa: E402

SEEDS = (1, 2, 3)
INDUSTRIES, PER_INDUSTRY, GENERAL = 40, 25, 1000
TENANTS, HELD_OUT = 3000, 600
BASELINE = """
SELECT module_id FROM market_listings
WHERE module_id NOT IN (SELECT module_id FROM market_installations WHERE namespace = $1)
ORDER BY installs DESC, name LIMIT 5"""


def dataset(seed: int) -> tuple[list[tuple], list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """(listing rows, (tenant, module) installations kept, tenant -> (held-out module, kind))."""
    rng = random.Random(seed)  # noqa: S311 - a seeded data set
    listings, industry_modules = [], []
    for industry in range(INDUSTRIES):
        words = [f"i{industry}w{n}" for n in range(6)]
        members = []
        for n in range(PER_INDUSTRY):
            module_id = f"ind{industry}-m{n}"
            tags = [*rng.sample(words, 2), f"g{rng.randrange(300)}"]
            listings.append((module_id, [f"family-{industry // 4}"], tags))
            members.append(module_id)
        industry_modules.append(members)
    general = [f"gen-m{n}" for n in range(GENERAL)]
    for module_id in general:
        listings.append((module_id, [f"family-{rng.randrange(10)}"], [f"g{rng.randrange(300)}"]))
    zipf = [1 / (rank + 1) ** 1.1 for rank in range(GENERAL)]
    installs: dict[str, set[str]] = {}
    for t in range(TENANTS):
        tenant = f"tenant-{t}"
        industries = rng.sample(range(INDUSTRIES), 2 if rng.random() < 0.2 else 1)
        count = rng.randint(3, 9)
        chosen: set[str] = set()
        while len(chosen) < count:
            if rng.random() < 0.6:
                members = industry_modules[rng.choice(industries)]
                # a skewed pick: an industry has its staples
                chosen.add(members[min(int(rng.expovariate(0.25)), PER_INDUSTRY - 1)])
            else:
                chosen.add(rng.choices(general, weights=zipf)[0])
        installs[tenant] = chosen
    eligible = [t for t, mods in installs.items() if len(mods) >= 4]
    held: dict[str, tuple[str, str]] = {}
    for tenant in rng.sample(eligible, HELD_OUT):
        module_id = rng.choice(sorted(installs[tenant]))
        installs[tenant].discard(module_id)
        held[tenant] = (module_id, "general" if module_id.startswith("gen-") else "industry")
    kept = [(tenant, m) for tenant, mods in installs.items() for m in sorted(mods)]
    adopters: dict[str, int] = {}
    for _, module_id in kept:
        adopters[module_id] = adopters.get(module_id, 0) + 1
    now = datetime.now(UTC)
    rows = [
        (
            module_id,
            module_id,
            "bench",
            f"The {module_id} module.",
            cats,
            tags,
            " ".join(tags + cats),
            "free",
            now,
            adopters.get(module_id, 0),
        )
        for module_id, cats, tags in listings
    ]
    return rows, kept, held


async def evaluate(store: Store, seed: int) -> dict[str, float]:
    rows, kept, held = dataset(seed)
    async with store.pool.acquire() as connection:
        await connection.execute("TRUNCATE market_listings, market_installations, market_usage")
        await connection.copy_records_to_table(
            "market_listings",
            records=rows,
            columns=[
                "name",
                "module_id",
                "publisher",
                "summary",
                "categories",
                "tags",
                "keywords",
                "pricing_model",
                "created_at",
                "installs",
            ],
        )
        await connection.copy_records_to_table(
            "market_installations",
            records=[(uuid.uuid4(), tenant, m, "Active") for tenant, m in kept],
            columns=["uid", "namespace", "module_id", "phase"],
        )
        await connection.execute("ANALYZE market_listings; ANALYZE market_installations")
    recommender = Recommendations(store)
    hits = {"ours": 0, "popular": 0}
    by_kind: dict[str, dict[str, int]] = {}
    times = []
    for tenant, (module_id, kind) in held.items():
        started = time.perf_counter()
        ours = [r["module_id"] for r in await recommender.for_tenant(tenant, 5)]
        times.append((time.perf_counter() - started) * 1000)
        popular = [r[0] for r in await store.pool.fetch(BASELINE, tenant)]
        counts = by_kind.setdefault(kind, {"ours": 0, "popular": 0, "n": 0})
        counts["n"] += 1
        for name, found in (("ours", ours), ("popular", popular)):
            if module_id in found:
                hits[name] += 1
                counts[name] += 1
    result = {
        "ours": hits["ours"] / len(held),
        "popular": hits["popular"] / len(held),
        "p50": percentile(times, 0.5),
        "p99": percentile(times, 0.99),
    }
    for kind, counts in by_kind.items():
        result[f"{kind}/ours"] = counts["ours"] / counts["n"]
        result[f"{kind}/popular"] = counts["popular"] / counts["n"]
        result[f"{kind}/share"] = counts["n"] / len(held)
    return result


async def run(stack: DevStack) -> list[dict[str, float]]:
    env = stack.environment()
    async with await Store.connect(env["ADX_DATABASE_URL"], schema="bench_recommend") as store:
        await store.pool.execute("CREATE SCHEMA IF NOT EXISTS bench_recommend")
        await store.migrate()
        return [await evaluate(store, seed) for seed in SEEDS]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-recommend-"))
    with DevStack(work / "stack") as stack:
        results = asyncio.run(run(stack))

    def column(key: str, unit: str = "", scale: float = 100.0, digits: int = 1) -> str:
        values = [r[key] * scale for r in results]
        return spread(values, unit or "%", digits)

    ratio = statistics.median(r["ours"] for r in results) / max(
        statistics.median(r["popular"] for r in results), 1e-9
    )
    share = statistics.median(r["general/share"] for r in results) * 100
    body = "\n".join(
        [
            "## Recommendations",
            "",
            f"{machine()}; one fresh local stack; a seeded data set per run "
            f"({INDUSTRIES * PER_INDUSTRY + GENERAL:,} listings, {TENANTS:,} tenants, "
            "3 to 9 installations each; one installation of "
            f"{HELD_OUT} tenants held out, {share:.0f} % of them general modules popular "
            "everywhere). Hit rate at 5: the held-out module is among the first 5. "
            f"{len(SEEDS)} seeds, min / median / max.",
            "",
            "| what | ours (`for_tenant`) | popularity baseline | ours / baseline |",
            "| --- | --- | --- | --- |",
            f"| hit rate at 5, all held-out | {column('ours')} | {column('popular')} | "
            f"{ratio:.2f}x |",
            f"| hit rate at 5, an industry module held out | {column('industry/ours')} | "
            f"{column('industry/popular')} | |",
            f"| hit rate at 5, a general module held out | {column('general/ours')} | "
            f"{column('general/popular')} | |",
            f"| latency of one tenant's 5 | p50 {column('p50', 'ms', 1.0)}; "
            f"p99 {column('p99', 'ms', 1.0)} | | |",
        ]
    )
    write_section("recommendations", body)
    print(body)


if __name__ == "__main__":
    main()
