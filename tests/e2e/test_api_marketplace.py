"""The HTTP API's marketplace routes against the real apiserver's TokenReview and
SubjectAccessReview: bearer tokens of ServiceAccounts, RBAC as the only policy, tenants as
namespaces, problem+json for every refusal, and bad input answered 400 naming the field.

Real apiserver, Temporal, PostgreSQL, Stripe emulator; the operator, the worker and the API run as
users run them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from adx_modules.devstack.process import free_port
from support.kube import Kubectl
from support.objects import listing_doc, module_doc, wait_condition
from support.operator import api_of_its_own
from support.stack import StackInfo
from support.tenants import Tenant, catalog_reader_role, problem_of

pytestmark = pytest.mark.usefixtures("operator", "worker", "api")


@pytest.fixture(scope="module")
def catalog_role(stack: StackInfo) -> None:
    Kubectl(stack.kubeconfig).apply(catalog_reader_role())


@pytest.mark.usefixtures("catalog_role")
def test_tenants_are_namespaces_and_rbac_decides(
    kubectl: Kubectl, namespace: str, other_namespace: str, api_url: str, unique: str
) -> None:
    module_id = f"sold-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(
        listing_doc(
            module_id,
            f"Sold by the API {unique}.",
            pricing={"model": "one-time", "amount": "15", "currency": "EUR"},
            categories=["analytics"],
        )
    )
    wait_condition(kubectl, f"module/{module_id}-1-0-0", "Ready")
    alice = Tenant(kubectl, namespace)
    bob = Tenant(kubectl, other_namespace, reads_catalog=False)
    http = httpx.Client(timeout=30)

    # who: no token, a forged one
    assert "bearer token" in problem_of(http.post(f"{api_url}/marketplace/search", json={}), 401)
    forged = {"Authorization": "Bearer not-a-token"}
    assert "not valid" in problem_of(
        http.post(f"{api_url}/marketplace/search", json={}, headers=forged), 401
    )

    # reading the catalog takes the right to list listings: alice has it, bob has not
    for _ in range(100):  # the worker's read model follows the listing through its watch
        found = http.post(
            f"{api_url}/marketplace/search",
            json={"query": unique, "sort_by": "Rating", "categories": ["Analytics"]},
            headers=alice.headers,
        )
        assert found.status_code == 200, found.text
        if found.json()["items"]:
            break
    assert [item["module_id"] for item in found.json()["items"]] == [module_id]
    assert "may not list marketplacelistings" in problem_of(
        http.post(f"{api_url}/marketplace/search", json={}, headers=bob.headers), 403
    )
    exported = http.get(
        f"{api_url}/marketplace/listings", params={"module_id": module_id}, headers=alice.headers
    ).json()
    assert [listing["metadata"]["name"] for listing in exported["listings"]] == [module_id]
    assert [m["spec"]["version"] for m in exported["modules"]] == ["1.0.0"]
    assert "uid" not in exported["listings"][0]["metadata"]

    # bad input: 400 naming the field, never a 500
    assert "sort_by" in problem_of(
        http.post(
            f"{api_url}/marketplace/search", json={"sort_by": "Popularity"}, headers=alice.headers
        ),
        400,
    )
    assert "page_size" in problem_of(
        http.post(f"{api_url}/marketplace/search", json={"page_size": 1000}, headers=alice.headers),
        400,
    )
    assert "body.tenant_id" in problem_of(
        http.post(f"{api_url}/marketplace/purchase", json={}, headers=alice.headers), 400
    )
    assert "tenant_id" in problem_of(
        http.get(f"{api_url}/tenants/Not_A_Namespace/recommendations", headers=alice.headers),
        400,
    )

    # buying: only in one's own tenant, only as oneself
    order = {
        "tenant_id": other_namespace,
        "listing": module_id,
        "payment_method": {"Invoice": {"reference": "PO-9"}},
    }
    headers = {**alice.headers, "Idempotency-Key": f"order-{unique}"}
    assert f"may not create purchases in namespace {other_namespace}" in problem_of(
        http.post(f"{api_url}/marketplace/purchase", json=order, headers=headers), 403
    )
    impostor = {**order, "tenant_id": namespace, "user_id": "mallory"}
    assert "is not the caller" in problem_of(
        http.post(f"{api_url}/marketplace/purchase", json=impostor, headers=headers), 403
    )
    mine = {**order, "tenant_id": namespace}
    started = http.post(f"{api_url}/marketplace/purchase", json=mine, headers=headers)
    assert started.status_code == 202, started.text
    purchase = started.json()
    assert (purchase["status"], purchase["user_id"], purchase["amount"]) == (
        "pending",
        alice.user,
        "15.00",
    )
    again = http.post(f"{api_url}/marketplace/purchase", json=mine, headers=headers).json()
    assert again["purchase_id"] == purchase["purchase_id"]
    status = http.get(
        f"{api_url}{purchase['status_url'].removeprefix('/api/v1')}", headers=alice.headers
    )
    assert status.json()["purchase_id"] == purchase["purchase_id"]
    assert "may not get purchases" in problem_of(
        http.get(f"{api_url}{purchase['status_url'].removeprefix('/api/v1')}", headers=bob.headers),
        403,
    )
    # approving is an operator's right (purchases/approval), not the buyer's
    assert "may not update purchases/approval" in problem_of(
        http.post(
            f"{api_url}/marketplace/purchases/{purchase['purchase_id']}/approve",
            json={},
            headers=alice.headers,
        ),
        403,
    )

    # reviews: only from a tenant that runs the module
    review = {"tenant_id": namespace, "rating": 5, "title": "great"}
    refused = http.post(
        f"{api_url}/marketplace/modules/{module_id}/reviews", json=review, headers=alice.headers
    )
    assert f"tenant {namespace} has no Active installation of {module_id}" in problem_of(
        refused, 403
    )

    # recommendations: a tenant's own, not another's
    mine_recommended = http.get(
        f"{api_url}/tenants/{namespace}/recommendations", headers=alice.headers
    )
    assert mine_recommended.status_code == 200, mine_recommended.text
    assert "may not list moduleinstallations" in problem_of(
        http.get(f"{api_url}/tenants/{other_namespace}/recommendations", headers=alice.headers),
        403,
    )


@pytest.mark.usefixtures("catalog_role")
async def test_a_caller_past_its_rate_waits_and_a_huge_body_is_refused_unread(
    kubectl: Kubectl, namespace: str, api_url: str
) -> None:
    carol = Tenant(kubectl, namespace)
    async with httpx.AsyncClient(timeout=60) as http:
        huge = await http.post(
            f"{api_url}/marketplace/search",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={**carol.headers, "Content-Type": "application/json"},
        )
        assert "at most 1048576 bytes" in problem_of(huge, 413)
        # a hundred at once: the burst (twice the rate, 40) passes, the rest wait
        answers = await asyncio.gather(
            *(http.get(f"{api_url}/marketplace/sync", headers=carol.headers) for _ in range(100))
        )
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {200, 429}, statuses
    assert 40 <= statuses.count(200) < 100
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert "sends more requests than allowed" in problem_of(refused, 429)


@pytest.mark.usefixtures("catalog_role")
async def test_a_database_that_does_not_answer_in_time_is_503_with_retry_after(
    kubectl: Kubectl, namespace: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    """A query the database holds past server.database_timeout_seconds (here a lock another
    session keeps on the read model) is the service's unavailability, not a fault: 503 with
    Retry-After; once the lock is gone, the same request answers again."""
    alice = Tenant(kubectl, namespace)
    with api_of_its_own(service_env, tmp_path, ADX_SERVER_DATABASE_TIMEOUT_SECONDS="1") as url:
        search = f"{url}/api/v1/marketplace/search"
        locker = await asyncpg.connect(
            service_env["ADX_DATABASE_URL"],
            server_settings={"search_path": service_env["ADX_DATABASE_SCHEMA_NAME"]},
        )
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                assert (await http.post(search, json={}, headers=alice.headers)).status_code == 200
                async with locker.transaction():
                    await locker.execute("LOCK TABLE market_listings IN ACCESS EXCLUSIVE MODE")
                    held = await http.post(search, json={}, headers=alice.headers)
                assert "did not answer in time" in problem_of(held, 503)
                assert held.headers["Retry-After"] == "5"
                assert (await http.post(search, json={}, headers=alice.headers)).status_code == 200
        finally:
            await locker.close()


def test_health_says_which_dependency_is_unreachable_and_readiness_fails(
    service_env: dict[str, str], stack: StackInfo, tmp_path: Path
) -> None:
    """An API whose apiserver does not answer (its kubeconfig names a closed port) stays
    alive — /health 200, degraded, naming the apiserver — and is not ready (503)."""
    config = yaml.safe_load(Path(stack.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    broken = tmp_path / "kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    with api_of_its_own(service_env, tmp_path, KUBECONFIG=str(broken)) as url:
        health = httpx.get(f"{url}/health", timeout=30)
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["dependencies"]["database"] == "ok"
        assert health.json()["dependencies"]["kubernetes"].startswith("unreachable")
        ready = httpx.get(f"{url}/health/ready", timeout=30)
        assert ready.status_code == 503
        assert ready.headers["Retry-After"] == "5"
