"""The marketplace with the operator and the worker as users run them: a listing's status
counts its module's installs as installations come and go (not only when the listing changes),
and the worker's projection makes the listing searchable with the same count."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adx_modules.clients.postgres import Store
from adx_modules.marketplace.search import MarketplaceSearch, SearchQuery
from support.kube import Kubectl
from support.objects import installation_doc, listing_doc, module_doc, wait_phase

pytestmark = pytest.mark.usefixtures("operator", "worker")


async def searched(env: dict[str, str], text: str) -> list[dict[str, Any]]:
    async with await Store.connect(
        env["ADX_DATABASE_URL"], schema=env["ADX_DATABASE_SCHEMA_NAME"]
    ) as store:
        return (await MarketplaceSearch(store).search(SearchQuery(text=text))).items


async def test_a_listing_counts_installs_as_installations_come_and_go_and_is_searchable(
    kubectl: Kubectl, service_env: dict[str, str], unique: str
) -> None:
    module_id = f"counted-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(listing_doc(module_id, f"Counts its installs {unique}"))

    def installs(wanted: int) -> dict[str, Any] | None:
        listing: dict[str, Any] = kubectl.json("get", "marketplacelisting", module_id)
        status = listing.get("status") or {}
        done = status.get("installs") == wanted and status.get("latestVersion") == "1.0.0"
        return listing if done else None

    kubectl.wait_for(lambda: installs(0), 60)
    kubectl.apply(installation_doc("counted", module_id))
    wait_phase(kubectl, "mi/counted", "Active", timeout=120)
    kubectl.wait_for(lambda: installs(1), 60)
    for _ in range(100):
        found = await searched(service_env, unique)
        if found and found[0]["installs"] == 1:
            break
        await asyncio.sleep(0.3)
    assert [(f["module_id"], f["installs"], f["latest_version"]) for f in found] == [
        (module_id, 1, "1.0.0")
    ]
    kubectl("delete", "mi", "counted", "--timeout=120s")
    kubectl.wait_for(lambda: installs(0), 60)
