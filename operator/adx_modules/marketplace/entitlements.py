"""Purchases and entitlements in PostgreSQL: what a tenant bought, and whether it may run it.

Why it exists: the install path asks "does this tenant hold an entitlement to this module?", and
a purchase's steps must each be idempotent (they run at least once): a purchase row is created
once per idempotency key, its payment reference recorded once, an entitlement granted once per
purchase however often the grant runs, and revoked once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from adx_modules.clients.postgres import Store
from adx_modules.marketplace.contract import Outcome, PurchaseRequest

HELD = """
SELECT 1 FROM market_entitlements WHERE tenant = $1 AND module_id = $2 AND revoked_at IS NULL
LIMIT 1"""


@dataclass(frozen=True)
class PurchaseRecord:
    """A purchase as recorded."""

    id: str
    idempotency_key: str
    tenant: str
    user_id: str
    listing: str
    module_id: str
    amount: Decimal
    currency: str
    provider: str
    provider_ref: str | None
    state: str
    detail: str
    created_at: datetime
    updated_at: datetime

    def view(self) -> dict[str, Any]:
        """As the API shows it: no token, no card, the amount as a decimal string."""
        return {
            "purchase_id": self.id,
            "tenant_id": self.tenant,
            "user_id": self.user_id,
            "listing": self.listing,
            "module_id": self.module_id,
            "amount": f"{self.amount:.2f}",
            "currency": self.currency,
            "provider": self.provider,
            "payment_reference": self.provider_ref,
            "status": self.state,
            "detail": self.detail,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _record(row: asyncpg.Record | None) -> PurchaseRecord | None:
    return PurchaseRecord(**dict(row)) if row else None


class Entitlements:
    """The purchases and entitlements tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def held(self, tenant: str, module_id: str) -> bool:
        """Whether the tenant holds an entitlement to the module (a purchase not refunded)."""
        return bool(await self._store.pool.fetchval(HELD, tenant, module_id))

    async def open(self, request: PurchaseRequest, idempotency_key: str) -> PurchaseRecord:
        """The purchase's row: made by the first request, returned as it is to a repeat."""
        async with self._store.pool.acquire() as connection:
            await connection.execute(
                """INSERT INTO market_purchases
                   (id, idempotency_key, tenant, user_id, listing, module_id, amount, currency,
                    provider)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING""",
                request.purchase_id,
                idempotency_key,
                request.tenant,
                request.user_id,
                request.listing,
                request.module_id,
                request.amount,
                request.currency,
                request.provider,
            )
            row = await connection.fetchrow(
                "SELECT * FROM market_purchases WHERE id = $1", request.purchase_id
            )
        found = _record(row)
        if found is None:  # pragma: no cover - inserted or present just above
            raise LookupError(request.purchase_id)
        return found

    async def purchase(self, purchase_id: str) -> PurchaseRecord | None:
        async with self._store.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT * FROM market_purchases WHERE id = $1", purchase_id
            )
        return _record(row)

    async def by_reference(self, provider: str, ref: str) -> PurchaseRecord | None:
        async with self._store.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT * FROM market_purchases WHERE provider = $1 AND provider_ref = $2",
                provider,
                ref,
            )
        return _record(row)

    async def of_tenant(self, tenant: str, limit: int = 100) -> list[PurchaseRecord]:
        async with self._store.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM market_purchases WHERE tenant = $1 "
                "ORDER BY created_at DESC, id LIMIT $2",
                tenant,
                limit,
            )
        return [PurchaseRecord(**dict(row)) for row in rows]  # every row is a purchase

    async def set_reference(self, purchase_id: str, ref: str) -> str:
        """Record the provider's payment id once; a repeat returns the one recorded."""
        async with self._store.pool.acquire() as connection:
            recorded: str = await connection.fetchval(
                """UPDATE market_purchases
                   SET provider_ref = coalesce(provider_ref, $2), updated_at = now()
                   WHERE id = $1 RETURNING provider_ref""",
                purchase_id,
                ref,
            )
        return recorded

    async def settle(self, purchase_id: str, outcome: Outcome, detail: str) -> bool:
        """Record the end of a purchase; paid grants its entitlement, refunded revokes it, in
        the same transaction. False when it had ended that way already (a repeat)."""
        async with self._store.pool.acquire() as connection, connection.transaction():
            changed = await connection.fetchval(
                """UPDATE market_purchases SET state = $2, detail = $3, updated_at = now()
                   WHERE id = $1 AND state <> $2
                     AND state <> 'refunded'                 -- nothing follows a refund
                     AND ($2 <> 'refunded' OR state = 'paid') -- only what was paid is refunded
                   RETURNING id""",
                purchase_id,
                outcome,
                detail,
            )
            if changed is None:
                return False
            if outcome == "paid":
                await connection.execute(
                    """INSERT INTO market_entitlements (purchase_id, tenant, module_id)
                       SELECT id, tenant, module_id FROM market_purchases WHERE id = $1
                       ON CONFLICT (purchase_id) DO NOTHING""",
                    purchase_id,
                )
            elif outcome == "refunded":
                await connection.execute(
                    """UPDATE market_entitlements SET revoked_at = now(), revoke_reason = $2
                       WHERE purchase_id = $1 AND revoked_at IS NULL""",
                    purchase_id,
                    detail,
                )
        return True

    async def entitlements(self, purchase_id: str) -> list[dict[str, Any]]:
        """The entitlement rows of a purchase (the tests count them)."""
        async with self._store.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT * FROM market_entitlements WHERE purchase_id = $1", purchase_id
            )
        return [dict(row) for row in rows]
