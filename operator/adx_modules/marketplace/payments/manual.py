"""The manual (invoice) provider: an operator approves the payment.

Why it exists: many tenants of a platform pay by invoice, not by card. The purchase waits for an
approver (``Purchases.decide``), whose decision reaches the workflow as the same signal a card
provider's webhook would send. Nothing is charged here, so a refund only records that the
invoice was credited; the entitlement is revoked all the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from adx_modules.marketplace.contract import PaymentState, Provider, PurchaseRequest
from adx_modules.marketplace.payments.provider import WebhookError, WebhookEvent


class ManualProvider:
    """Invoices approved by an operator."""

    @property
    def name(self) -> Provider:
        return "manual"

    async def create(self, request: PurchaseRequest) -> str:
        return f"inv-{request.purchase_id.removeprefix('pur-')}"

    async def confirm(self, ref: str) -> PaymentState:
        return PaymentState(ref=ref, outcome="pending", detail="awaiting an approver")

    async def status(self, ref: str) -> PaymentState:
        return await self.confirm(ref)

    async def refund(self, ref: str, purchase_id: str) -> None:
        return None  # the invoice is credited outside the service; the purchase records it

    def verify(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        raise WebhookError("the manual provider takes no webhooks: an approver decides")
