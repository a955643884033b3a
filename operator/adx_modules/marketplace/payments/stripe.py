"""The Stripe provider, through Stripe's official SDK.

Why it exists: card payments. A purchase becomes a PaymentIntent, created unconfirmed with the
purchase in its metadata and the purchase id as Stripe's idempotency key, recorded, and only then
confirmed: a crash between two steps never charges twice (the recorded intent is confirmed, or
found already charged). Stripe reports the outcome by a webhook whose ``Stripe-Signature`` must
verify against the endpoint's secret. The caller's token (``tok_...`` from Stripe.js or a
``pm_...`` payment method) is used once and never stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import stripe

from adx_modules.marketplace.contract import Outcome, PaymentState, Provider, PurchaseRequest
from adx_modules.marketplace.payments.provider import (
    PaymentError,
    WebhookError,
    WebhookEvent,
    minor_units,
)

METADATA_KEY = "adx_purchase"
# what each Stripe event means for a purchase (others concern no payment of ours)
EVENTS: dict[str, Outcome] = {
    "payment_intent.succeeded": "paid",
    "payment_intent.payment_failed": "failed",
    "charge.refunded": "refunded",
}
STATES: dict[str, Outcome] = {"succeeded": "paid", "canceled": "failed"}


def _object_of(body: bytes) -> dict[str, Any]:
    """The event's ``data.object`` as plain JSON (the body's signature verified already)."""
    event = json.loads(body)
    data = event.get("data") if isinstance(event, dict) else None
    found = data.get("object") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise WebhookError("the event's data.object is not an object")
    return found


def _refused(error: stripe.StripeError) -> PaymentError:
    message = error.user_message or str(error) or type(error).__name__
    if isinstance(error, stripe.CardError):
        return PaymentError(402, f"the card was declined: {message}")
    if isinstance(error, stripe.InvalidRequestError):
        return PaymentError(400, f"Stripe refused the payment: {message}")
    return PaymentError(502, f"Stripe is unavailable or misconfigured: {message}")


class StripeProvider:
    """Card payments through one Stripe account."""

    def __init__(self, api_key: str, webhook_secret: str, api_base: str = "") -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(),
            max_network_retries=2,
        )
        self._webhook_secret = webhook_secret

    @property
    def name(self) -> Provider:
        return "stripe"

    async def _payment_method(self, token: str) -> str:
        """Stripe.js gives a card token (``tok_``) or a payment method (``pm_``); a
        PaymentIntent takes the latter or the token's card (``card_``)."""
        if token.startswith(("pm_", "card_")):
            return token
        if not token.startswith("tok_"):
            raise PaymentError(
                400, "payment_method: a Stripe card token (tok_...) or payment method (pm_...)"
            )
        try:
            found = await self._client.v1.tokens.retrieve_async(token)
        except stripe.StripeError as error:
            raise _refused(error) from error
        card = getattr(found, "card", None)
        if card is None:
            raise PaymentError(400, f"payment_method: token {token} holds no card")
        return str(card.id)

    async def create(self, request: PurchaseRequest) -> str:
        params: dict[str, Any] = {
            "amount": minor_units(request.amount, request.currency),
            "currency": request.currency.lower(),
            "payment_method": await self._payment_method(request.payment_token),
            "metadata": {
                METADATA_KEY: request.purchase_id,
                "tenant": request.tenant,
                "listing": request.listing,
            },
        }
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.purchase_id},
            )
        except stripe.StripeError as error:
            raise _refused(error) from error
        return str(intent.id)

    def _state(self, intent: Any) -> PaymentState:
        outcome = STATES.get(str(intent.status))
        if (
            outcome is None
            and intent.status == "requires_payment_method"
            and getattr(intent, "last_payment_error", None)
        ):
            error = intent.last_payment_error
            return PaymentState(ref=intent.id, outcome="failed", detail=str(error.message))
        return PaymentState(ref=intent.id, outcome=outcome or "pending", detail=intent.status)

    async def confirm(self, ref: str) -> PaymentState:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(ref)
            if intent.status == "requires_confirmation":
                intent = await self._client.v1.payment_intents.confirm_async(ref)
        except stripe.CardError as error:
            return PaymentState(ref=ref, outcome="failed", detail=str(_refused(error)))
        except stripe.StripeError as error:
            raise _refused(error) from error
        return self._state(intent)

    async def status(self, ref: str) -> PaymentState:
        try:
            return self._state(await self._client.v1.payment_intents.retrieve_async(ref))
        except stripe.StripeError as error:
            raise _refused(error) from error

    async def refund(self, ref: str, purchase_id: str) -> None:
        try:
            done = await self._client.v1.refunds.list_async(params={"payment_intent": ref})
            if done.data:
                return  # refunded already (a repeat of this activity)
            await self._client.v1.refunds.create_async(
                params={"payment_intent": ref, "metadata": {METADATA_KEY: purchase_id}},
                options={"idempotency_key": f"{purchase_id}-refund"},
            )
        except stripe.StripeError as error:
            raise _refused(error) from error

    def verify(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        signature = headers.get("stripe-signature") or headers.get("Stripe-Signature")
        if not signature:
            raise WebhookError("the Stripe-Signature header is missing")
        if not self._webhook_secret:
            raise WebhookError("marketplace.stripe_webhook_secret is not set: nothing verifies")
        try:
            event = stripe.Webhook.construct_event(
                body.decode("utf-8"), signature, self._webhook_secret
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookError(f"the Stripe-Signature does not verify: {error}") from error
        except (ValueError, UnicodeDecodeError) as error:
            raise WebhookError(f"the body is not a Stripe event: {error}") from error
        outcome = EVENTS.get(str(event.type))
        if outcome is None:
            return None
        payment = _object_of(body)
        ref = payment.get("payment_intent") if outcome == "refunded" else payment.get("id")
        failure = payment.get("last_payment_error") or {}
        return WebhookEvent(
            event_id=str(event.id),
            ref=str(ref or ""),
            outcome=outcome,
            detail=str(failure.get("message") or event.type),
            purchase_id=str((payment.get("metadata") or {}).get(METADATA_KEY, "")),
        )
