"""Marketplace search over the read model: ranked full-text with typo tolerance, filters, six
sort orders, and pages that neither skip nor repeat while listings are added.

Why it exists: discovery is what a marketplace is for. A query's words match a listing's module
name first (weight A), then its summary, tags and categories (B), then its description (C), in
PostgreSQL's full-text search (``simple`` for names, ``english`` stems for prose); a misspelt
module name still finds it by trigram similarity (pg_trgm), ranked below exact matches. Pages are
keyset pages: the cursor is the last row's sort key and name, so a listing added meanwhile lands
before or after it and never shifts a page (an OFFSET would skip or repeat one).
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adx_modules.clients.postgres import Store

Sort = Literal["relevance", "rating", "downloads", "newest", "name", "price"]
PricingModel = Literal["free", "one-time", "subscription", "usage"]
COLUMNS = (
    "name",
    "module_id",
    "publisher",
    "summary",
    "categories",
    "tags",
    "pricing_model",
    "price",
    "currency",
    "featured",
    "latest_version",
    "runtime",
    "installs",
    "rating_average",
    "rating_count",
    "created_at",
)
# the expression each sort orders by (descending but name), and its type for the cursor
ORDER: dict[str, tuple[str, str]] = {
    "relevance": ("rank", "desc"),
    "rating": ("coalesce(rating_average, 0)", "desc"),
    "downloads": ("installs", "desc"),
    "newest": ("created_at", "desc"),
    "price": ("coalesce(price, 0)", "asc"),
    "name": ("name", "asc"),
}
RANKED_AT_MOST = 2000  # matches of a query ranked by relevance, the most popular first
# the type a cursor's key is read back as: exactly the column's, so equal stays equal
CURSOR_TYPES = {
    "relevance": "real",
    "rating": "real",
    "downloads": "integer",
    "newest": "timestamptz",
    "price": "numeric",
}


class SearchQuery(BaseModel):
    """What a caller asks for; every field optional."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(max_length=200)] = ""
    categories: Annotated[list[str], Field(max_length=20)] = []
    pricing_models: Annotated[list[PricingModel], Field(max_length=4)] = []
    price_min: Annotated[Decimal, Field(ge=0)] | None = None
    price_max: Annotated[Decimal, Field(ge=0)] | None = None
    min_rating: Annotated[float, Field(ge=0, le=5)] | None = None
    runtime: str | None = None
    tags: Annotated[list[str], Field(max_length=20)] = []
    publisher: str | None = None
    sort: Sort = "relevance"
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: str | None = None


class SearchPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class InvalidCursorError(ValueError):
    """The cursor is not one this search gave out (or belongs to another sort)."""


def _encode(sort: str, key: Any, name: str) -> str:
    value = key.isoformat() if hasattr(key, "isoformat") else key
    raw = json.dumps([sort, str(value) if isinstance(value, Decimal) else value, name])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        kept_sort, key, name = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise InvalidCursorError(f"cursor: not a cursor of this search ({error})") from None
    if kept_sort != sort:
        raise InvalidCursorError(f"cursor: it pages a {kept_sort} sort, not {sort}")
    return key, str(name)


class _Parameters:
    """The numbered parameters of one statement."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _matches(query: SearchQuery, text: str, where: str, param: _Parameters, trigrams: str) -> str:
    """Name, rank and sort key (the query's sort: the rank, or an expression of the row) of
    the listings the words find: exact matches (the search vector's GIN index; rank 1 +
    ts_rank) and, apart, names only similar to the words (pg_trgm's GIN index; rank their
    similarity, below every exact match). Each half on its own index."""
    words = param(text)
    either = (
        f"(websearch_to_tsquery('simple', {words}) || websearch_to_tsquery('english', {words}))"
    )
    exact = f"search @@ {either}"
    halves = (
        (f"(1 + ts_rank('{{0.1, 0.2, 0.4, 1.0}}', search, {either}))::real", exact),
        (
            f'"{trigrams}".word_similarity({words}, module_id)::real',
            f'{words} OPERATOR("{trigrams}".<%) module_id AND NOT {exact}',
        ),
    )
    key, direction = ORDER[query.sort]
    if key == "rank":
        # ranked by relevance, the candidates are the most popular RANKED_AT_MOST matches
        # (ranking every one of 50,000 matches of a very common word reads every row)
        chosen = f"ORDER BY popularity DESC LIMIT {RANKED_AT_MOST}"
    else:
        # in another order, each half's page after the cursor (that order's index finds it)
        where = f"{where} AND {_after(query, key, param)}"
        chosen = f"ORDER BY {key} {direction.upper()}, name ASC LIMIT {query.page_size + 1}"
    return " UNION ALL ".join(
        f"SELECT name, {rank} AS rank, {rank if key == 'rank' else key} AS sort_key "  # noqa: S608
        f"FROM (SELECT * FROM market_listings WHERE {match} AND {where} {chosen}) candidates"
        for rank, match in halves
    )


def _filters(query: SearchQuery, param: _Parameters) -> list[str]:
    checks: list[tuple[object, str]] = [
        (query.categories, "categories && {}::text[]"),
        (query.tags, "tags && {}::text[]"),
        (query.pricing_models, "pricing_model = ANY({}::text[])"),
        (query.price_min, "coalesce(price, 0) >= {}"),
        (query.price_max, "coalesce(price, 0) <= {}"),
        (query.min_rating, "coalesce(rating_average, 0) >= {}"),
        (query.runtime, "runtime = {}"),
        (query.publisher, "lower(publisher) = lower({})"),
    ]
    return [
        condition.format(param(value))
        for value, condition in checks
        if value is not None and value not in ([], "")
    ]


def _after(query: SearchQuery, key: str, param: _Parameters) -> str:
    """The keyset condition on ``key`` (and the name) of the page after the cursor ('TRUE' on
    the first page)."""
    if not query.cursor:
        return "TRUE"
    after_key, after_name = _decode(query.cursor, query.sort)
    if query.sort == "name":
        return f"name > {param(after_name)}"
    direction = ORDER[query.sort][1]
    bound = f"{param(str(after_key))}::text::{CURSOR_TYPES[query.sort]}"
    worse = "<" if direction == "desc" else ">"
    return f"({key} {worse} {bound} OR ({key} = {bound} AND name > {param(after_name)}))"


def build(query: SearchQuery, trigrams: str = "public") -> tuple[str, list[Any]]:
    """The SQL and its parameters for one page (one row more than asked: is there a next?).
    With words, the page's names are chosen from the matches first and only their rows read;
    without, the rows are read in the order of the sort's index."""
    param = _Parameters()
    where = " AND ".join(["latest_version IS NOT NULL", *_filters(query, param)])
    key, direction = ORDER[query.sort]
    limit = query.page_size + 1
    text = query.text.strip()
    if not text:
        order = "name ASC" if query.sort == "name" else f"{key} {direction.upper()}, name ASC"
        source = (
            f"SELECT {', '.join(COLUMNS)}, popularity AS rank "  # noqa: S608
            f"FROM market_listings WHERE {where}"
        )
        after = _after(query, key, param)
        sql = f"SELECT * FROM ({source}) page WHERE {after} ORDER BY {order} LIMIT {limit}"  # noqa: S608
        return sql, param.values
    found = _matches(query, text, where, param, trigrams)
    order = "name ASC" if query.sort == "name" else f"sort_key {direction.upper()}, name ASC"
    after = _after(query, "sort_key", param)
    chosen = f"SELECT * FROM ({found}) found WHERE {after} ORDER BY {order} LIMIT {limit}"  # noqa: S608
    columns = ", ".join(f"l.{column}" for column in COLUMNS)
    sql = (
        f"SELECT {columns}, page.rank FROM ({chosen}) page "  # noqa: S608
        f"JOIN market_listings l USING (name) ORDER BY {order.replace('name', 'l.name')}"
    )
    return sql, param.values


def _sort_key(row: dict[str, Any], sort: str) -> Any:
    return {
        "relevance": row["rank"],
        "rating": row["rating_average"] or 0,
        "downloads": row["installs"],
        "newest": row["created_at"],
        "price": row["price"] or 0,
        "name": row["name"],
    }[sort]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    answer = {k: v for k, v in row.items() if k not in {"rank", "created_at", "price"}}
    answer["price"] = str(row["price"]) if row["price"] is not None else None
    answer["created_at"] = row["created_at"].isoformat()
    return answer


class MarketplaceSearch:
    """Search and featured, over the read model of :mod:`projection`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._trigrams: str | None = None

    async def _trigram_schema(self) -> str:
        """Where pg_trgm lives in this database (one place per database)."""
        if self._trigrams is None:
            found = await self._store.pool.fetchval(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            )
            self._trigrams = str(found or "public").strip('"')
        return self._trigrams

    async def search(self, query: SearchQuery) -> SearchPage:
        sql, params = build(query, await self._trigram_schema())
        rows = [dict(r) for r in await self._store.pool.fetch(sql, *params)]
        page, more = rows[: query.page_size], len(rows) > query.page_size
        cursor = None
        if more and page:
            last = page[-1]
            cursor = _encode(query.sort, _sort_key(last, query.sort), last["name"])
        return SearchPage(items=[_public(r) for r in page], next_cursor=cursor)

    async def featured(self, limit: int = 10) -> list[dict[str, Any]]:
        """The curated listings first, then by popularity (installs, and ratings weighed by
        how many there are)."""
        rows = await self._store.pool.fetch(
            f"SELECT {', '.join(COLUMNS)}, popularity AS rank FROM market_listings "  # noqa: S608
            "WHERE latest_version IS NOT NULL "
            "ORDER BY featured DESC, popularity DESC, name ASC LIMIT $1",
            max(1, min(limit, 100)),
        )
        return [_public(dict(r)) for r in rows]
