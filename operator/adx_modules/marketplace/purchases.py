"""Purchases as callers see them: buy a listing, approve an invoice, refund, and the providers'
webhooks.

Why it exists: the HTTP API (and an operator's tools) start and steer purchases without knowing
Temporal. A purchase is keyed by the tenant and the caller's idempotency key: the same request
sent twice opens one row and one workflow and answers the same; a webhook delivered twice
signals a workflow that settles once. A webhook is believed only when the provider's signature
verifies. The price comes from the MarketplaceListing itself (the truth), never from a request.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from adx_modules.api.listing import LISTING
from adx_modules.clients.errors import NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.settings import MarketplaceSettings, Settings
from adx_modules.marketplace.contract import (
    PaymentSignal,
    Provider,
    PurchaseActivities,
    PurchaseRequest,
    Settlement,
    purchase_id,
    purchase_workflow_id,
    refund_workflow_id,
)
from adx_modules.marketplace.entitlements import Entitlements, PurchaseRecord
from adx_modules.marketplace.payments import PaymentProvider, provider, providers
from adx_modules.marketplace.payments.provider import PaymentError

Key = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


class CreditCard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(min_length=3, max_length=255)]


class Invoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: Annotated[str, Field(max_length=255)] = ""
    """The tenant's purchase-order number, shown to the approver."""


class PaymentMethod(BaseModel):
    """The service's shape: ``{"CreditCard": {"token": ...}}`` (Stripe) or
    ``{"Invoice": {"reference": ...}}`` (the manual provider); exactly one."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    credit_card: CreditCard | None = Field(None, alias="CreditCard")
    invoice: Invoice | None = Field(None, alias="Invoice")

    def chosen(self) -> tuple[Provider, str]:
        if (self.credit_card is None) == (self.invoice is None):
            raise PurchaseError(400, "payment_method: give exactly one of CreditCard or Invoice")
        if self.credit_card is not None:
            return "stripe", self.credit_card.token
        return "manual", ""


class PurchaseError(Exception):
    """A purchase request refused: ``code`` is the HTTP status it means."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Purchases:
    """Start, decide, refund purchases; take providers' webhooks."""

    def __init__(
        self,
        client: Client,
        entitlements: Entitlements,
        kube: KubeClient,
        *,
        providers: dict[Provider, PaymentProvider],
        settings: MarketplaceSettings,
        task_queue: str,
    ) -> None:
        self._client = client
        self._entitlements = entitlements
        self._kube = kube
        self._providers = providers
        self._settings = settings
        self._task_queue = task_queue

    @classmethod
    def from_settings(
        cls, client: Client, store: Store, kube: KubeClient, settings: Settings
    ) -> Purchases:
        """As every process builds it: the providers and timeouts of ``settings``."""
        return cls(
            client,
            Entitlements(store),
            kube,
            providers=providers(settings.marketplace),
            settings=settings.marketplace,
            task_queue=settings.temporal.task_queue,
        )

    async def _listing(self, name: str) -> dict[str, Any]:
        try:
            return await self._kube.get_custom(LISTING, name)
        except NotFoundError:
            raise PurchaseError(404, f"listing: no MarketplaceListing {name!r}") from None

    async def purchase(
        self,
        *,
        tenant: str,
        user: str,
        listing: str,
        payment_method: PaymentMethod,
        idempotency_key: str,
    ) -> PurchaseRecord:
        """Open the purchase and start its workflow (or find both, for a repeat)."""
        provider_name, token = payment_method.chosen()
        try:
            provider(self._providers, provider_name)
        except PaymentError as error:
            raise PurchaseError(400, f"payment_method: {error.message}") from None
        spec = (await self._listing(listing)).get("spec") or {}
        pricing = spec.get("pricing") or {}
        if pricing.get("model", "free") == "free":
            raise PurchaseError(409, f"listing: {listing} is free; install it, nothing to buy")
        model = str(pricing["model"])
        timeout = (
            self._settings.invoice_timeout_seconds
            if provider_name == "manual"
            else self._settings.payment_timeout_seconds
        )
        request = PurchaseRequest(
            purchase_id=purchase_id(tenant, idempotency_key),
            tenant=tenant,
            user_id=user,
            listing=listing,
            module_id=str(spec["module"]),
            amount=Decimal(str(pricing["amount"])),
            currency=str(pricing["currency"]),
            provider=provider_name,
            payment_token=token,
            timeout_seconds=timeout,
        )
        record = await self._entitlements.open(request, idempotency_key)
        if (record.listing, record.user_id, record.provider) != (listing, user, provider_name):
            raise PurchaseError(
                409,
                f"idempotency_key: already used by purchase {record.id} of {record.listing} "
                f"({model}); use a new key for a new purchase",
            )
        if record.state == "pending":
            await self._client.start_workflow(
                "PurchaseWorkflow",
                request,
                id=purchase_workflow_id(record.id),
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        return record

    async def _signal(self, record: PurchaseRecord, signal: PaymentSignal) -> bool:
        """Tell the purchase's workflow; False when it has ended (it settled already)."""
        handle = self._client.get_workflow_handle(purchase_workflow_id(record.id))
        try:
            await handle.signal(PurchaseActivities.PAYMENT_SIGNAL, signal)
        except RPCError:
            return False
        return True

    async def _known(self, purchase: str) -> PurchaseRecord:
        record = await self._entitlements.purchase(purchase)
        if record is None:
            raise PurchaseError(404, f"purchase_id: no purchase {purchase!r}")
        return record

    async def decide(self, purchase: str, *, approver: str, approve: bool) -> PurchaseRecord:
        """An operator approves (or rejects) an invoice purchase."""
        record = await self._known(purchase)
        if record.provider != "manual":
            raise PurchaseError(409, f"purchase {purchase} is paid by card: its provider decides")
        if record.state != "pending":
            raise PurchaseError(409, f"purchase {purchase} is {record.state} already")
        outcome = "paid" if approve else "failed"
        verb = "approved" if approve else "rejected"
        await self._signal(
            record,
            PaymentSignal(
                ref=record.provider_ref or "", outcome=outcome, detail=f"{verb} by {approver}"
            ),
        )
        return record

    async def refund(self, purchase: str, *, actor: str, reason: str = "") -> PurchaseRecord:
        """Refund a paid purchase: the money back, the entitlement revoked, the policy applied."""
        record = await self._known(purchase)
        if record.state not in ("paid", "refunded"):
            raise PurchaseError(409, f"purchase {purchase} is {record.state}: nothing to refund")
        await self._start_refund(record, f"refunded by {actor}" + (f": {reason}" if reason else ""))
        return record

    async def _start_refund(self, record: PurchaseRecord, detail: str) -> None:
        await self._client.start_workflow(
            "RefundPurchaseWorkflow",
            Settlement(purchase_id=record.id, outcome="refunded", detail=detail),
            id=refund_workflow_id(record.id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    async def webhook(self, provider_name: str, body: bytes, headers: dict[str, str]) -> str:
        """A provider's event, verified, delivered to its purchase. Returns what became of it."""
        try:
            event = provider(self._providers, provider_name).verify(body, headers)
        except PaymentError as error:
            raise PurchaseError(error.code, error.message) from None
        if event is None:
            return "ignored: not about a payment"
        record = (
            await self._entitlements.purchase(event.purchase_id) if event.purchase_id else None
        ) or await self._entitlements.by_reference(provider_name, event.ref)
        if record is None:
            return f"ignored: payment {event.ref} belongs to no purchase of this service"
        if event.outcome == "refunded":
            if record.state not in ("paid", "refunded"):
                return f"ignored: purchase {record.id} is {record.state}"
            await self._start_refund(record, f"refunded at {provider_name} ({event.event_id})")
            return f"refund of {record.id} started"
        signal = PaymentSignal(ref=event.ref, outcome=event.outcome, detail=event.detail)
        delivered = await self._signal(record, signal)
        return f"{event.outcome} delivered to {record.id}" if delivered else f"{record.id} settled"

    async def of_tenant(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's purchases, newest first (at most 100)."""
        return [record.view() for record in await self._entitlements.of_tenant(tenant)]

    async def view(self, purchase: str) -> dict[str, Any]:
        record = await self._known(purchase)
        answer = record.view()
        granted = await self._entitlements.entitlements(record.id)
        answer["entitlement"] = (
            None if not granted else "revoked" if granted[0]["revoked_at"] else "granted"
        )
        return answer
