"""The pure parts of purchases: what is paid and at what price, amounts in minor units, the
payment method's shape, and purchase ids that make a retried request the same purchase."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from adx_modules.marketplace.contract import purchase_id
from adx_modules.marketplace.payments.provider import minor_units
from adx_modules.marketplace.purchases import PaymentMethod, PurchaseError
from adx_modules.marketplace.rules import paid_listing


def listing(name: str, **pricing: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"module": "m", "pricing": pricing}}


def test_a_module_is_paid_when_a_listing_has_a_price_and_the_cheapest_is_named() -> None:
    assert paid_listing([]) is None
    assert paid_listing([listing("free", model="free")]) is None
    found = paid_listing(
        [
            listing("free", model="free"),
            listing("pro", model="one-time", amount="49", currency="USD"),
            listing("lite", model="subscription", amount="9.5", currency="USD", period="monthly"),
        ]
    )
    assert found == ("lite", "9.50 USD (subscription)")
    leaving = listing("pro", model="one-time", amount="49", currency="USD")
    leaving["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    assert paid_listing([leaving]) is None


def test_amounts_in_minor_units() -> None:
    assert minor_units(Decimal("49.99"), "USD") == 4999
    assert minor_units(Decimal("49"), "EUR") == 4900
    assert minor_units(Decimal("500"), "JPY") == 500


def test_the_service_payment_method_shape() -> None:
    card = PaymentMethod.model_validate({"CreditCard": {"token": "tok_visa"}})
    assert card.chosen() == ("stripe", "tok_visa")
    assert PaymentMethod.model_validate({"Invoice": {}}).chosen() == ("manual", "")
    with pytest.raises(PurchaseError, match="exactly one of CreditCard or Invoice"):
        PaymentMethod.model_validate({}).chosen()
    with pytest.raises(ValidationError):  # a card number is never a field we take
        PaymentMethod.model_validate({"CreditCard": {"token": "tok", "number": "4242"}})


def test_one_key_one_purchase_per_tenant() -> None:
    assert purchase_id("acme", "order-1") == purchase_id("acme", "order-1")
    assert purchase_id("acme", "order-1") != purchase_id("globex", "order-1")
    assert purchase_id("acme", "order-1").startswith("pur-")
