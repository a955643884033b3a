"""What a payment provider does for a purchase, whichever provider it is.

Why it exists: a purchase is the same workflow for a card charged through Stripe and for an
invoice an operator approves; only creating, confirming, refunding a payment and reading a
provider's webhooks differ. Each provider implements this protocol; the activities and the
webhook intake pick one by name. No card data passes through here but the provider's own token,
used once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from adx_modules.marketplace.contract import Outcome, PaymentState, Provider, PurchaseRequest

# ISO 4217 currencies without minor units (Stripe's list): amounts are sent as they are
ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
    "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
})  # fmt: skip


def minor_units(amount: Decimal, currency: str) -> int:
    """49.99 USD -> 4999; 500 JPY -> 500."""
    factor = 1 if currency.upper() in ZERO_DECIMAL else 100
    return int((amount * factor).to_integral_value())


class PaymentError(Exception):
    """A payment refused or failed at the provider: ``code`` is the HTTP status it means
    (400 bad payment method, 402 declined, 502 provider unavailable or misconfigured)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class WebhookError(PaymentError):
    """A webhook refused: unsigned, badly signed, stale or unreadable (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified provider event about one payment."""

    event_id: str
    ref: str
    outcome: Outcome
    detail: str = ""
    purchase_id: str = ""
    """The purchase the provider echoes back (its metadata), when it does."""


class PaymentProvider(Protocol):
    """One way to be paid."""

    @property
    def name(self) -> Provider: ...

    async def create(self, request: PurchaseRequest) -> str:
        """Create the payment (not yet charged) and return its reference; the provider is
        asked to treat a repeat for the same purchase as the same payment."""
        ...

    async def confirm(self, ref: str) -> PaymentState:
        """Charge it, or say where it stands if that was done already."""
        ...

    async def status(self, ref: str) -> PaymentState: ...

    async def refund(self, ref: str, purchase_id: str) -> None:
        """Give the money back (a repeat does not refund twice)."""
        ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        """The event a webhook carries, or None for events that concern no payment; raise
        :class:`WebhookError` unless the provider's signature verifies."""
        ...
