"""Reviews and ratings on the real PostgreSQL and apiserver: who may review, one review per user
per tenant per module, edits and deletes by the author only, the abuse limit, aggregates exact
under concurrent writers, the listing's row and its CR status following, and ratings surviving a
rebuilt read model.

Which tenant runs which module comes from the read model's installations: written here as the
projection would write them (test_marketplace_search proves the projection).
"""

from __future__ import annotations

import asyncio

import pydantic
import pytest

from adx_modules.api.listing import LISTING
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.marketplace import reviews as reviews_module
from adx_modules.marketplace.projection import CatalogProjection
from adx_modules.marketplace.reviews import ReviewError, ReviewInput, Reviews
from support.objects import listing_doc


@pytest.fixture
def store(migrated: Store) -> Store:
    return migrated


async def runs(store: Store, tenant: str, module_id: str) -> None:
    await store.pool.execute(
        "INSERT INTO market_installations (uid, namespace, module_id, phase) "
        "VALUES (gen_random_uuid(), $1, $2, 'Active')",
        tenant,
        module_id,
    )


async def listed(kube: KubeClient, store: Store, module_id: str) -> None:
    body = await kube.apply_custom(LISTING, listing_doc(module_id, "reviewed"))
    await CatalogProjection(kube, store).replace(LISTING, [body])


async def rating_row(store: Store, module_id: str) -> tuple[float | None, int]:
    row = await store.pool.fetchrow(
        "SELECT rating_average, rating_count FROM market_listings WHERE module_id = $1", module_id
    )
    assert row is not None
    return row["rating_average"], row["rating_count"]


async def test_reviews_follow_the_rules_and_move_the_aggregates(
    kube: KubeClient, store: Store, unique: str
) -> None:
    module_id = f"reviewed-{unique}"
    await listed(kube, store, module_id)
    await runs(store, "acme", module_id)
    reviews = Reviews(store, kube)
    with pytest.raises(ReviewError) as refused:
        await reviews.write(module_id, "other", "eve", ReviewInput(rating=1))
    assert (refused.value.code, refused.value.reason) == (403, "NotInstalled")

    ada = await reviews.write(module_id, "acme", "ada", ReviewInput(rating=4, title="Good"))
    assert (await reviews.rating(module_id)).average == 4.0
    with pytest.raises(ReviewError) as twice:
        await reviews.write(module_id, "acme", "ada", ReviewInput(rating=5))
    assert (twice.value.code, twice.value.reason) == (409, "AlreadyReviewed")
    bob = await reviews.write(module_id, "acme", "bob", ReviewInput(rating=2))
    assert await rating_row(store, module_id) == (3.0, 2)
    await reviews.edit(ada["id"], "acme", "ada", ReviewInput(rating=5, body="Better now"))
    assert await rating_row(store, module_id) == (3.5, 2)
    for attempt in (
        reviews.edit(ada["id"], "acme", "bob", ReviewInput(rating=1)),
        reviews.delete(ada["id"], "acme", "bob"),
        reviews.delete(ada["id"], "other", "ada"),
    ):
        with pytest.raises(ReviewError) as not_yours:
            await attempt
        assert not_yours.value.code == 404
    await reviews.delete(ada["id"], "acme", "ada")
    assert await rating_row(store, module_id) == (2.0, 1)
    assert [r["id"] for r in await reviews.of_module(module_id)] == [bob["id"]]
    status = (await kube.get_custom(LISTING, module_id)).get("status") or {}
    assert (status["ratingAverage"], status["ratingCount"]) == (2.0, 1)
    with pytest.raises(pydantic.ValidationError, match="rating"):
        ReviewInput(rating=6)
    # the read model lost: the ratings come back with it
    await store.pool.execute("DELETE FROM market_listings")
    await listed(kube, store, module_id)
    assert await rating_row(store, module_id) == (2.0, 1)


async def test_aggregates_stay_exact_under_concurrent_reviewers_and_the_abuse_limit_holds(
    store: Store, unique: str
) -> None:
    module_id = f"popular-{unique}"
    await runs(store, "acme", module_id)
    reviews = Reviews(store)
    users = [f"user-{index}" for index in range(30)]
    await asyncio.gather(
        *(
            reviews.write(module_id, "acme", user, ReviewInput(rating=1 + index % 5))
            for index, user in enumerate(users)
        )
    )
    expected = sum(1 + index % 5 for index in range(len(users)))
    stored = await reviews.rating(module_id)
    assert stored.count == len(users)
    assert stored.average == round(expected / len(users), 2)
    # one user, many modules: the hourly limit
    modules = [f"m{index}-{unique}" for index in range(reviews_module.MAX_PER_HOUR + 1)]
    for other in modules:
        await runs(store, "acme", other)
    for other in modules[:-1]:
        await reviews.write(other, "acme", "spammer", ReviewInput(rating=5))
    with pytest.raises(ReviewError) as limited:
        await reviews.write(modules[-1], "acme", "spammer", ReviewInput(rating=5))
    assert (limited.value.code, limited.value.reason) == (429, "TooManyReviews")
