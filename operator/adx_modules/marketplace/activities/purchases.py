"""The purchase workflow's activities: pay, settle, refund, revoke, and the install path's check.

Why it exists: every side effect of a purchase happens here, once however often it runs (an
activity runs at least once): a payment is created once per purchase (its reference recorded
before it is charged), an entitlement granted once per purchase, a refund made once. Settling a
paid purchase also names the install workflows waiting for it, which the purchase workflow then
signals; revoking names the installations the refund takes the module from.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION, ModuleInstallationSpec
from adx_modules.api.listing import LISTING
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.heartbeats import heartbeating
from adx_modules.core.refs import InstallationRef
from adx_modules.core.settings import MarketplaceSettings
from adx_modules.marketplace.contract import (
    Entitlement,
    EntitlementQuery,
    Granted,
    PaymentState,
    Provider,
    PurchaseActivities,
    PurchaseRequest,
    Revoked,
    RevokedInstallation,
    Settlement,
)
from adx_modules.marketplace.entitlements import Entitlements
from adx_modules.marketplace.payments import PaymentProvider, provider
from adx_modules.marketplace.payments.provider import PaymentError
from adx_modules.marketplace.rules import paid_listing

UNAVAILABLE = 502


def _waiting_for_entitlement(body: dict[str, Any]) -> str | None:
    """The workflow of an installation that waits for an entitlement, if it does."""
    status = body.get("status") or {}
    waiting = any(
        item.get("type") == c.ENTITLED and item.get("reason") == r.ENTITLEMENT_REQUIRED
        for item in status.get("conditions") or []
    )
    workflow = (status.get("workflow") or {}).get("id")
    return str(workflow) if waiting and workflow else None


def _reference(body: dict[str, Any]) -> InstallationRef:
    meta = body["metadata"]
    return InstallationRef(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        generation=int(meta.get("generation", 1)),
    )


class PurchaseSteps:
    """Payments through the providers, purchases and entitlements in PostgreSQL."""

    def __init__(
        self,
        entitlements: Entitlements,
        kube: KubeClient,
        providers: dict[Provider, PaymentProvider],
        settings: MarketplaceSettings,
    ) -> None:
        self._entitlements = entitlements
        self._kube = kube
        self._providers = providers
        self._settings = settings

    def _provider(self, name: str) -> PaymentProvider:
        try:
            return provider(self._providers, name)
        except PaymentError as error:
            raise StepError(r.PAYMENT_PROVIDER_DISABLED, error.message) from None

    @activity.defn(name=PurchaseActivities.CREATE_PAYMENT)
    async def create_payment(self, request: PurchaseRequest) -> PaymentState:
        """Create the payment once (recorded before it is charged), then charge it: a refusal
        (bad token, declined card) is an outcome, an unreachable provider is retried."""
        async with heartbeating(f"charging for {request.purchase_id}"):
            record = await self._entitlements.purchase(request.purchase_id)
            if record is None:
                raise StepError(r.INVALID_SPEC, f"purchase {request.purchase_id} was never opened")
            if record.state != "pending":
                return PaymentState.model_validate(
                    {"ref": record.provider_ref or "", "outcome": record.state}
                )
            chosen = self._provider(request.provider)
            try:
                ref = record.provider_ref or await self._entitlements.set_reference(
                    request.purchase_id, await chosen.create(request)
                )
                return await chosen.confirm(ref)
            except PaymentError as error:
                if error.code >= UNAVAILABLE:
                    raise  # transient: the provider is down (retried with backoff)
                return PaymentState(
                    ref=record.provider_ref or "", outcome="failed", detail=error.message
                )

    @activity.defn(name=PurchaseActivities.PAYMENT_STATUS)
    async def payment_status(self, request: PurchaseRequest) -> PaymentState:
        """Ask the provider itself (when no webhook came in time)."""
        async with heartbeating(f"asking about {request.purchase_id}"):
            record = await self._entitlements.purchase(request.purchase_id)
            if record is None or not record.provider_ref:
                return PaymentState(ref="", outcome="failed", detail="no payment was created")
            return await self._provider(request.provider).status(record.provider_ref)

    @activity.defn(name=PurchaseActivities.SETTLE)
    async def settle(self, settlement: Settlement) -> Granted:
        """Record the outcome (paid grants the entitlement in the same transaction) and name
        the tenant's install workflows that wait for it."""
        async with heartbeating(f"settling {settlement.purchase_id}"):
            await self._entitlements.settle(
                settlement.purchase_id, settlement.outcome, settlement.detail
            )
            record = await self._entitlements.purchase(settlement.purchase_id)
            if record is None or record.state != "paid":
                return Granted()
            installations = await self._kube.list_custom(INSTALLATION, record.tenant)
            waiting = [
                workflow
                for body in installations
                if (body.get("spec") or {}).get("module") == record.module_id
                and (workflow := _waiting_for_entitlement(body))
            ]
            return Granted(waiting_workflows=waiting)

    @activity.defn(name=PurchaseActivities.REFUND_PAYMENT)
    async def refund_payment(self, purchase_id: str) -> None:
        """Give the money back through the purchase's provider (once)."""
        async with heartbeating(f"refunding {purchase_id}"):
            record = await self._entitlements.purchase(purchase_id)
            if record is None or record.state == "refunded" or not record.provider_ref:
                return
            await self._provider(record.provider).refund(record.provider_ref, purchase_id)

    @activity.defn(name=PurchaseActivities.REVOKE)
    async def revoke(self, settlement: Settlement) -> Revoked:
        """Mark the purchase refunded and revoke its entitlement; unless the tenant still holds
        another, name its installations of the module and the policy to apply."""
        async with heartbeating(f"revoking {settlement.purchase_id}"):
            await self._entitlements.settle(settlement.purchase_id, "refunded", settlement.detail)
            record = await self._entitlements.purchase(settlement.purchase_id)
            if record is None:
                return Revoked(policy=self._settings.revocation_policy)
            if await self._entitlements.held(record.tenant, record.module_id):  # bought twice
                return Revoked(policy=self._settings.revocation_policy)
            installations = await self._kube.list_custom(INSTALLATION, record.tenant)
            return Revoked(
                installations=[
                    RevokedInstallation(
                        ref=_reference(body),
                        spec=ModuleInstallationSpec.model_validate(body["spec"]),
                        isolation=(body.get("status") or {}).get("isolation"),
                    )
                    for body in installations
                    if (body.get("spec") or {}).get("module") == record.module_id
                    and not body["metadata"].get("deletionTimestamp")
                ],
                policy=self._settings.revocation_policy,
            )

    @activity.defn(name=PurchaseActivities.CHECK_ENTITLEMENT)
    async def check_entitlement(self, query: EntitlementQuery) -> Entitlement:
        """The install path's question: may this tenant run this module? Whether it is paid is
        asked of the apiserver (its listings, selected by module), not of the read model, which
        may not have seen a listing created a moment ago."""
        listings = await self._kube.list_custom(
            LISTING, field_selector=f"spec.module={query.module_id}"
        )
        paid = paid_listing(listings)
        if paid is None:
            return Entitlement(paid=False, entitled=True)
        listing, price = paid
        held = await self._entitlements.held(query.tenant, query.module_id)
        return Entitlement(paid=True, entitled=held, listing=listing, price=price)

    def all(self) -> list[Any]:
        return [
            self.create_payment,
            self.payment_status,
            self.settle,
            self.refund_payment,
            self.revoke,
            self.check_entitlement,
        ]
