"""Purchases end to end: a paid module waits for its purchase, a card paid through the Stripe SDK
against the local Stripe emulator (which signs its webhooks) lets the install go on, a duplicate
webhook grants once, a forged one is refused, an invoice waits for its approver, a declined card
grants nothing, and a refund takes the module away as the revocation policy says.

Real apiserver, Temporal, PostgreSQL, Stripe emulator; the operator, the worker and the HTTP API
(which receives the emulator's webhooks) run as users run them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import stripe

from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.settings import load_settings
from adx_modules.marketplace.entitlements import Entitlements, PurchaseRecord
from adx_modules.marketplace.payments.stripe import METADATA_KEY
from adx_modules.marketplace.purchases import PaymentMethod, PurchaseError, Purchases
from support.kube import Kubectl
from support.objects import (
    condition,
    installation_doc,
    listing_doc,
    module_doc,
    wait_condition,
    wait_phase,
)
from support.operator import ServiceProcess

pytestmark = pytest.mark.usefixtures("operator", "worker", "api")
PAID = {"pricing": {"model": "one-time", "amount": "49", "currency": "USD"}}
GOOD_CARD = "4242424242424242"
THREE_D_SECURE_CARD = "4000002500003155"  # Stripe's test card that must authenticate
DECLINED_CARD = "4000000000000341"  # Stripe's test card whose charges are declined


@asynccontextmanager
async def marketplace(env: dict[str, str]) -> AsyncIterator[tuple[Purchases, Entitlements]]:
    """The purchases library as the HTTP API builds it, on the e2e session's schema and queue."""
    settings = load_settings(environ=env)
    client = await temporal.connect(settings.temporal.address, settings.temporal.namespace)
    async with (
        await KubeClient.connect(env["KUBECONFIG"]) as kube,
        await Store.connect(settings.database.url, schema=settings.database.schema_name) as store,
    ):
        entitlements = Entitlements(store)
        yield (
            Purchases.from_settings(client, store, kube, settings),
            entitlements,
        )


def card(env: dict[str, str], number: str) -> PaymentMethod:
    """The service's card payment method, as a front end sends it: ``{"CreditCard": {"token"}}``."""
    return PaymentMethod.model_validate({"CreditCard": {"token": card_token(env, number)}})


def card_token(env: dict[str, str], number: str) -> str:
    """What Stripe.js hands a front end: a card token, made at the emulator."""
    client = stripe.StripeClient(
        env["ADX_MARKETPLACE_STRIPE_API_KEY"],
        base_addresses={"api": env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
    )
    token = client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    return str(token.id)


async def settled(
    entitlements: Entitlements, purchase: str, state: str, within: float = 60
) -> PurchaseRecord:
    deadline = time.monotonic() + within
    record = await entitlements.purchase(purchase)
    while time.monotonic() < deadline:
        record = await entitlements.purchase(purchase)
        if record is not None and record.state == state:
            return record
        await asyncio.sleep(0.3)
    raise AssertionError(f"purchase {purchase} is {record and record.state}, not {state}")


def signed_event(secret: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A webhook as Stripe signs it (t=..., v1=HMAC-SHA256 of "t.body")."""
    body = json.dumps(event).encode()
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


@pytest.fixture
def paid_module(kubectl: Kubectl, unique: str) -> Iterator[str]:
    module_id = f"paid-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(listing_doc(module_id, "Costs money.", **PAID))
    wait_condition(kubectl, f"module/{module_id}-1-0-0", "Ready")
    yield module_id
    kubectl("delete", "marketplacelisting", module_id, "--wait=false", check=False)


async def awaiting_purchase(kubectl: Kubectl, name: str, module_id: str) -> dict[str, Any]:
    """The installation stops, Stalled, naming what to buy."""
    waiting = wait_phase(kubectl, f"mi/{name}", "AwaitingPurchase", timeout=60)
    stalled = condition(waiting, "Stalled")
    assert stalled["status"] == "True"
    assert stalled["reason"] == "EntitlementRequired"
    entitled = condition(waiting, "Entitled")
    assert entitled["status"] == "False"
    assert f"MarketplaceListing {module_id} (49.00 USD)" in entitled["message"]
    assert condition(waiting, "Ready")["status"] == "False"
    return waiting


async def test_a_card_purchase_lets_the_waiting_install_go_on_and_a_refund_suspends_it(
    kubectl: Kubectl, service_env: dict[str, str], paid_module: str, namespace: str
) -> None:
    async with marketplace(service_env) as (purchases, entitlements):
        kubectl.apply(installation_doc("bought", paid_module))
        await awaiting_purchase(kubectl, "bought", paid_module)

        method = card(service_env, GOOD_CARD)
        started = await purchases.purchase(
            tenant=namespace,
            user="alice",
            listing=paid_module,
            payment_method=method,
            idempotency_key="order-1",
        )
        again = await purchases.purchase(
            tenant=namespace,
            user="alice",
            listing=paid_module,
            payment_method=method,
            idempotency_key="order-1",
        )
        assert again.id == started.id  # a retried request is the same purchase
        paid = await settled(entitlements, started.id, "paid")
        assert paid.provider == "stripe"
        assert (paid.provider_ref or "").startswith("pi_")
        assert (paid.amount, paid.currency) == (49, "USD")
        active = wait_phase(kubectl, "mi/bought", "Active", timeout=120)
        assert condition(active, "Entitled")["reason"] == "Purchased"
        assert condition(active, "Stalled").get("status") != "True"

        # the same event delivered again (Stripe retries deliveries): granted once
        secret = service_env["ADX_MARKETPLACE_STRIPE_WEBHOOK_SECRET"]
        event = {
            "id": "evt_duplicate",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": {"id": paid.provider_ref, "object": "payment_intent"}},
        }
        url = (
            f"http://127.0.0.1:{service_env['ADX_SERVER_PORT']}/api/v1/marketplace/webhooks/stripe"
        )
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(2):
                body, headers = signed_event(secret, event)
                answer = await http.post(url, content=body, headers=headers)
                assert answer.status_code == 200, answer.text
            assert len(await entitlements.entitlements(started.id)) == 1

            # a forged event (signed with another secret) is refused and changes nothing
            body, headers = signed_event("whsec_forged", {**event, "type": "charge.refunded"})
            forged = await http.post(url, content=body, headers=headers)
        assert forged.status_code == 400
        assert forged.headers["content-type"].startswith("application/problem+json")
        assert "Stripe-Signature does not verify" in forged.json()["detail"]
        assert (await entitlements.purchase(started.id)).state == "paid"  # type: ignore[union-attr]

        # refund: the money back at Stripe, the entitlement revoked, the install suspended
        await purchases.refund(started.id, actor="support", reason="customer asked")
        await settled(entitlements, started.id, "refunded")
        stripe_client = stripe.StripeClient(
            service_env["ADX_MARKETPLACE_STRIPE_API_KEY"],
            base_addresses={"api": service_env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
        )
        refunds = stripe_client.v1.refunds.list(params={"payment_intent": paid.provider_ref})
        assert [r.amount for r in refunds.data] == [4900]
        suspended = wait_phase(kubectl, "mi/bought", "Inactive", timeout=60)
        revoked = condition(suspended, "Entitled")
        assert (revoked["status"], revoked["reason"]) == ("False", "EntitlementRevoked")
        assert "customer asked" in revoked["message"]
        assert condition(suspended, "Stalled")["status"] == "True"
        assert not await entitlements.held(namespace, paid_module)


async def test_a_card_that_needs_authentication_is_granted_by_stripes_signed_webhook(
    kubectl: Kubectl, service_env: dict[str, str], paid_module: str, namespace: str
) -> None:
    """The purchase waits; the customer authenticates (what Stripe.js does in the browser);
    the emulator then calls the API's webhook, signed, and only that grants."""
    async with marketplace(service_env) as (purchases, entitlements):
        started = await purchases.purchase(
            tenant=namespace,
            user="erin",
            listing=paid_module,
            payment_method=card(service_env, THREE_D_SECURE_CARD),
            idempotency_key="3ds",
        )
        for _ in range(100):
            record = await entitlements.purchase(started.id)
            if record is not None and record.provider_ref:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # were anything granted without the webhook, it would be by now
        assert record is not None
        assert record.state == "pending"
        assert await entitlements.entitlements(started.id) == []
        stripe_client = stripe.StripeClient(
            service_env["ADX_MARKETPLACE_STRIPE_API_KEY"],
            base_addresses={"api": service_env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
        )
        intent = stripe_client.v1.payment_intents.retrieve(str(record.provider_ref))
        assert intent.status == "requires_action"
        async with httpx.AsyncClient(timeout=10) as http:
            authenticated = await http.post(
                f"{service_env['ADX_MARKETPLACE_STRIPE_API_BASE']}/v1/payment_intents/"
                f"{intent.id}/_authenticate",
                data={"client_secret": intent.client_secret, "success": "true"},
                headers={
                    "Authorization": f"Bearer {service_env['ADX_MARKETPLACE_STRIPE_API_KEY']}"
                },
            )
        assert authenticated.status_code == 200, authenticated.text
        paid = await settled(entitlements, started.id, "paid")
        assert paid.detail == "payment_intent.succeeded"  # the webhook's word, not a poll's
        assert len(await entitlements.entitlements(started.id)) == 1


async def test_a_declined_card_grants_nothing_and_an_invoice_waits_for_its_approver(
    kubectl: Kubectl, service_env: dict[str, str], paid_module: str, namespace: str
) -> None:
    async with marketplace(service_env) as (purchases, entitlements):
        kubectl.apply(installation_doc("waits", paid_module))
        await awaiting_purchase(kubectl, "waits", paid_module)

        declined = await purchases.purchase(
            tenant=namespace,
            user="bob",
            listing=paid_module,
            payment_method=card(service_env, DECLINED_CARD),
            idempotency_key="declined",
        )
        failed = await settled(entitlements, declined.id, "failed")
        assert "declined" in failed.detail
        assert await entitlements.entitlements(declined.id) == []
        assert kubectl.json("get", "mi", "waits")["status"]["phase"] == "AwaitingPurchase"

        invoice = await purchases.purchase(
            tenant=namespace,
            user="bob",
            listing=paid_module,
            payment_method=PaymentMethod.model_validate({"Invoice": {"reference": "PO-7"}}),
            idempotency_key="invoice",
        )
        with pytest.raises(PurchaseError) as reused:  # one key, one purchase
            await purchases.purchase(
                tenant=namespace,
                user="carol",
                listing=paid_module,
                payment_method=PaymentMethod.model_validate({"Invoice": {}}),
                idempotency_key="invoice",
            )
        assert reused.value.code == 409
        await asyncio.sleep(2)
        assert (await entitlements.purchase(invoice.id)).state == "pending"  # type: ignore[union-attr]
        await purchases.decide(invoice.id, approver="finance", approve=True)
        paid = await settled(entitlements, invoice.id, "paid")
        assert paid.detail == "approved by finance"
        active = wait_phase(kubectl, "mi/waits", "Active", timeout=120)
        assert condition(active, "Entitled")["reason"] == "Purchased"


async def test_a_free_module_passes_and_a_free_listing_is_not_for_sale(
    kubectl: Kubectl, service_env: dict[str, str], unique: str, namespace: str
) -> None:
    module_id = f"free-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(listing_doc(module_id, "Costs nothing."))
    kubectl.apply(installation_doc("free", module_id))
    active = wait_phase(kubectl, "mi/free", "Active", timeout=120)
    assert condition(active, "Entitled")["reason"] == "FreeModule"
    async with marketplace(service_env) as (purchases, _):
        with pytest.raises(PurchaseError) as refused:
            await purchases.purchase(
                tenant=namespace,
                user="dan",
                listing=module_id,
                payment_method=PaymentMethod.model_validate({"Invoice": {}}),
                idempotency_key="free",
            )
    assert refused.value.code == 409
    assert "is free" in refused.value.message
    kubectl("delete", "marketplacelisting", module_id, "--wait=false", check=False)


def test_the_api_answers_health_and_refuses_unsigned_webhooks(
    api: ServiceProcess, service_env: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{service_env['ADX_SERVER_PORT']}"
    health = httpx.get(f"{base}/health", timeout=10).json()
    assert health["status"] == "healthy"
    assert {"version", "timestamp"} <= set(health)
    assert health["dependencies"] == {"kubernetes": "ok", "database": "ok"}
    assert httpx.get(f"{base}/health/ready", timeout=10).status_code == 200
    unsigned = httpx.post(f"{base}/api/v1/marketplace/webhooks/stripe", content=b"{}", timeout=10)
    assert unsigned.status_code == 400
    assert unsigned.json()["detail"] == "the Stripe-Signature header is missing"
    manual = httpx.post(f"{base}/api/v1/marketplace/webhooks/manual", content=b"{}", timeout=10)
    assert manual.status_code == 400
    unknown = httpx.post(f"{base}/api/v1/marketplace/webhooks/paypal", content=b"{}", timeout=10)
    assert unknown.status_code == 400
    assert "'paypal' is not enabled" in unknown.json()["detail"]


@pytest.mark.parametrize("point", ["create_payment:after", "settle_purchase:after"])
async def test_a_crash_around_charging_and_granting_charges_and_grants_once(
    *,
    kubectl: Kubectl,
    service_env: dict[str, str],
    paid_module: str,
    namespace: str,
    point: str,
    worker: ServiceProcess,
) -> None:
    """The worker dies after the card was charged (not yet recorded as such), or after the
    entitlement was granted (the waiting install not yet told): one charge, one grant."""
    async with marketplace(service_env) as (purchases, entitlements):
        kubectl.apply(installation_doc("bought", paid_module))
        await awaiting_purchase(kubectl, "bought", paid_module)
        with worker.crashing_at(point, "purchase/") as crash:
            started = await purchases.purchase(
                tenant=namespace,
                user="alice",
                listing=paid_module,
                payment_method=card(service_env, GOOD_CARD),
                idempotency_key=f"order-{point}",
            )
        assert crash.workflow_id == f"purchase/{started.id}"
        # the dead worker's step is noticed by its heartbeat timeout (15 s), well before its
        # 60 s time limit: a step without heartbeats would still be pending here
        paid = await settled(entitlements, started.id, "paid", within=40)
        wait_phase(kubectl, "mi/bought", "Active", timeout=120)
        assert len(await entitlements.entitlements(started.id)) == 1
        stripe_client = stripe.StripeClient(
            service_env["ADX_MARKETPLACE_STRIPE_API_KEY"],
            base_addresses={"api": service_env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
        )
        intents = stripe_client.v1.payment_intents.list(params={"limit": 100})
        ours = [i for i in intents.data if i.to_dict()["metadata"].get(METADATA_KEY) == started.id]
        assert [(i.id, i.status, i.amount) for i in ours] == [
            (paid.provider_ref, "succeeded", 4900)
        ]
