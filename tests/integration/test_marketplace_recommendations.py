"""Recommendations on real PostgreSQL, over the read model as the projection writes it: what
tenants like this one use comes first, then what resembles what it has, then what is popular;
never what it has or removed. Usage events are recorded once, and only with analytics on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.listing import LISTING
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.marketplace.projection import CatalogProjection
from adx_modules.marketplace.recommendations import Recommendations
from support.objects import listing_doc

LISTINGS = {
    # module: (categories, tags)
    "ledger": (["finance"], ["accounting"]),
    "invoices": (["finance"], ["billing"]),
    "payroll": (["finance"], ["hr"]),
    "tax-forms": (["finance"], ["tax"]),
    "dashboards": (["analytics"], ["charts"]),
    "chat": (["communication"], ["messaging"]),
    "wiki": (["productivity"], ["docs"]),
}


def installation(tenant: str, module_id: str, phase: str = "Active") -> dict[str, Any]:
    return {
        "metadata": {"uid": str(uuid.uuid4()), "namespace": tenant, "name": module_id},
        "spec": {"module": module_id},
        "status": {"phase": phase},
    }


@pytest.fixture
async def projection(kube: KubeClient, migrated: Store) -> CatalogProjection:
    projection = CatalogProjection(kube, migrated, analytics=True)
    await projection.replace(
        LISTING,
        [
            listing_doc(m, f"The {m} module.", categories=cats, tags=tags)
            for m, (cats, tags) in LISTINGS.items()
        ],
    )
    # finance tenants run ledger with invoices; chat is everywhere (popular, unrelated)
    installed = [
        *(installation(f"peer-{i}", m) for i in range(6) for m in ("ledger", "invoices", "chat")),
        *(installation(f"solo-{i}", "chat") for i in range(6)),
        *(installation(f"solo-{i}", "wiki") for i in range(3)),
        installation("acme", "ledger"),
    ]
    await projection.replace(INSTALLATION, installed)
    return projection


async def test_what_similar_tenants_use_comes_first_then_what_resembles_what_it_has(
    projection: CatalogProjection, migrated: Store
) -> None:
    found = await Recommendations(migrated).for_tenant("acme", limit=5)
    # invoices: the peers that run ledger run it; chat: they run it too, but so does everyone
    # (its votes are divided by its many adopters); then the finance modules no peer runs (same
    # category); then wiki, popular only; never ledger, which acme has
    assert [f["module_id"] for f in found] == ["invoices", "chat", "payroll", "tax-forms", "wiki"]
    assert [f["because"] for f in found] == [
        "tenants with modules like yours use it",
        "tenants with modules like yours use it",
        "it shares categories or tags with your modules",
        "it shares categories or tags with your modules",
        "it is popular",
    ]


async def test_a_new_tenant_gets_what_is_popular(
    projection: CatalogProjection, migrated: Store
) -> None:
    found = await Recommendations(migrated).for_tenant("newcomer", limit=3)
    assert found[0]["module_id"] == "chat"  # installed by twelve tenants
    assert {f["because"] for f in found} == {"it is popular"}


async def test_what_a_tenant_removed_is_not_offered_again_and_events_are_recorded_once(
    projection: CatalogProjection, migrated: Store
) -> None:
    tried = installation("acme", "invoices")
    await projection.apply(INSTALLATION, "ADDED", tried)
    await projection.apply(INSTALLATION, "MODIFIED", tried)  # a replayed event: still one
    await projection.apply(INSTALLATION, "DELETED", tried)
    events = await migrated.pool.fetch(
        "SELECT kind FROM market_usage WHERE tenant = 'acme' ORDER BY id"
    )
    assert [e["kind"] for e in events] == ["install", "uninstall"]
    modules = [f["module_id"] for f in await Recommendations(migrated).for_tenant("acme", 10)]
    assert "invoices" not in modules
    assert "payroll" in modules


async def test_without_analytics_no_usage_is_recorded(kube: KubeClient, migrated: Store) -> None:
    quiet = CatalogProjection(kube, migrated, analytics=False)
    await quiet.apply(INSTALLATION, "ADDED", installation("quiet", "wiki"))
    assert await migrated.pool.fetchval("SELECT count(*) FROM market_usage") == 0
