"""Payment providers: Stripe (cards) and manual (invoices an operator approves)."""

from __future__ import annotations

from adx_modules.core.settings import MarketplaceSettings
from adx_modules.marketplace.contract import Provider
from adx_modules.marketplace.payments.manual import ManualProvider
from adx_modules.marketplace.payments.provider import PaymentError, PaymentProvider
from adx_modules.marketplace.payments.stripe import StripeProvider


def providers(settings: MarketplaceSettings) -> dict[Provider, PaymentProvider]:
    """The providers these settings enable: manual always, Stripe when it has a key."""
    enabled: dict[Provider, PaymentProvider] = {"manual": ManualProvider()}
    if settings.stripe_api_key:
        enabled["stripe"] = StripeProvider(
            settings.stripe_api_key, settings.stripe_webhook_secret, settings.stripe_api_base
        )
    return enabled


__all__ = ["PaymentError", "PaymentProvider", "provider", "providers"]


def provider(found: dict[Provider, PaymentProvider], name: str) -> PaymentProvider:
    """The provider ``name``, or a PaymentError saying it is not enabled here."""
    chosen = next((p for key, p in found.items() if key == name), None)
    if chosen is None:
        hint = " (marketplace.stripe_api_key is not set)" if name == "stripe" else ""
        raise PaymentError(400, f"payment provider {name!r} is not enabled{hint}")
    return chosen
