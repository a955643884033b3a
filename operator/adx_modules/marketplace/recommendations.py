"""Recommendations per tenant: what tenants like it use, what resembles what it has, what is
popular — never what it has, nor what it removed.

Why it exists: a marketplace of thousands of modules needs a way in besides search. One query
over the read model (market_installations, market_listings) and the usage events
(market_usage) scores a bounded set of candidates:

- **collaborative** (weight 1): tenants that share modules with this tenant vote for their other
  modules, each vote weighed by how many modules they share; a module's votes are divided by the
  square root of its adopters, so a module everyone has does not win by size alone;
- **content** (weight 0.3): the share of a listing's categories and tags found among this
  tenant's modules;
- **popularity** (weight 0.1): the listing's popularity (installs and ratings), a tie-breaker
  and the whole answer for a tenant with nothing installed yet.

Candidates are the 200 best collaborative ones, the 200 most popular listings sharing a category
or tag (GIN indexes), and the 50 most popular: the query never scores the whole catalog.
``docs/benchmarks.md`` has the offline evaluation (hit rate at 5 on held-out installs) against
popularity alone.
"""

from __future__ import annotations

from typing import Any

from adx_modules.clients.postgres import Store

COLLABORATIVE, CONTENT, POPULARITY = 1.0, 0.3, 0.1
RECOMMEND = """
WITH mine AS (
    SELECT DISTINCT module_id FROM market_installations WHERE namespace = $1
), removed AS (
    SELECT module_id FROM market_usage WHERE tenant = $1 AND kind = 'uninstall'
    EXCEPT SELECT module_id FROM mine
), peers AS (
    SELECT i.namespace, count(DISTINCT i.module_id)::float8 AS shared
    FROM market_installations i JOIN mine USING (module_id)
    WHERE i.namespace <> $1
    GROUP BY i.namespace
), votes AS (
    SELECT i.module_id, sum(p.shared) AS weight
    FROM market_installations i JOIN peers p USING (namespace)
    WHERE i.module_id NOT IN (SELECT module_id FROM mine)
    GROUP BY i.module_id
), adopters AS (
    SELECT v.module_id, count(DISTINCT i.namespace)::float8 AS n
    FROM votes v JOIN market_installations i USING (module_id)
    GROUP BY v.module_id
), collaborative AS (
    SELECT v.module_id, v.weight / sqrt(a.n + 1) AS score
    FROM votes v JOIN adopters a USING (module_id)
    ORDER BY score DESC LIMIT 200
), terms AS (
    SELECT coalesce(array_agg(DISTINCT term), '{}') AS terms FROM (
        SELECT unnest(l.categories || l.tags) AS term
        FROM market_listings l JOIN mine USING (module_id)
    ) t
), candidates AS (
    SELECT module_id FROM collaborative
    UNION
    (SELECT l.module_id FROM market_listings l, terms
     WHERE l.categories && terms.terms OR l.tags && terms.terms
     ORDER BY l.popularity DESC LIMIT 200)
    UNION
    (SELECT module_id FROM market_listings ORDER BY popularity DESC LIMIT 50)
), scored AS (
    SELECT DISTINCT ON (l.module_id)
        l.name, l.module_id, l.summary, l.categories, l.tags, l.pricing_model, l.popularity,
        coalesce(c.score, 0) AS collaborative,
        (SELECT count(*) FROM unnest(l.categories || l.tags) x WHERE x = ANY(terms.terms))::float8
            / greatest(cardinality(l.categories || l.tags), 1) AS content
    FROM candidates k
    JOIN market_listings l USING (module_id)
    LEFT JOIN collaborative c USING (module_id)
    CROSS JOIN terms
    WHERE l.module_id NOT IN (SELECT module_id FROM mine)
      AND l.module_id NOT IN (SELECT module_id FROM removed)
    ORDER BY l.module_id, l.popularity DESC, l.name
)
SELECT name, module_id, summary, categories, tags, pricing_model, collaborative, content,
    $3 * coalesce(collaborative / nullif(max(collaborative) OVER (), 0), 0)
    + $4 * content
    + $5 * coalesce(popularity / nullif(max(popularity) OVER (), 0), 0) AS score
FROM scored
ORDER BY score DESC, name
LIMIT $2"""


def _because(row: Any) -> str:
    if row["collaborative"] > 0:
        return "tenants with modules like yours use it"
    if row["content"] > 0:
        return "it shares categories or tags with your modules"
    return "it is popular"


class Recommendations:
    """Recommendations from the marketplace's read model."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def for_tenant(self, tenant: str, limit: int = 5) -> list[dict[str, Any]]:
        """The ``limit`` best listings for ``tenant``, best first, each with why."""
        async with self._store.pool.acquire() as connection:
            rows = await connection.fetch(
                RECOMMEND, tenant, limit, COLLABORATIVE, CONTENT, POPULARITY
            )
        return [
            {
                "listing": row["name"],
                "module_id": row["module_id"],
                "summary": row["summary"],
                "categories": list(row["categories"]),
                "tags": list(row["tags"]),
                "pricing_model": row["pricing_model"],
                "score": round(float(row["score"]), 4),
                "because": _because(row),
            }
            for row in rows
        ]
