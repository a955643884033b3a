"""The installation's condition sentences, written once.

Why it exists: the handler (at admission) and the workflow (when it resolves the version to
install) report the same conditions; each sentence has one author here, so they never drift
apart. Pure: conditions as (type, status, reason, message).
"""

from __future__ import annotations

from collections.abc import Sequence

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.meta import ConditionStatus

Condition = tuple[str, ConditionStatus, str, str]  # (type, status, reason, message)


def accepted() -> Condition:
    return (c.ACCEPTED, "True", r.VALID, "the spec passed the operator's checks")


def permissions_approved() -> Condition:
    return (c.PERMISSIONS_APPROVED, "True", r.SUCCEEDED, "every declared permission is approved")


def permissions_missing(missing: Sequence[str]) -> Condition:
    listed = ", ".join(missing)
    return (
        c.PERMISSIONS_APPROVED,
        "False",
        r.BLOCKED,
        f"approve in spec.approvedPermissions: {listed}",
    )


def awaiting_approval(missing: Sequence[str]) -> str:
    """The rollup's sentence while the permission gate waits."""
    return f"waiting for approval of {', '.join(missing)}"


def entitlement_required(tenant: str, module_id: str, listing: str, price: str) -> str:
    """What a tenant must buy (the rollup's and the Entitled condition's sentence)."""
    return (
        f"{module_id} is a paid module: tenant {tenant} holds no entitlement to it; purchase "
        f"MarketplaceListing {listing} ({price}) and the install continues"
    )


def entitled(listing: str, paid: bool) -> Condition:
    if not paid:
        return (c.ENTITLED, "True", r.FREE_MODULE, "the module is free")
    return (c.ENTITLED, "True", r.PURCHASED, f"the tenant purchased MarketplaceListing {listing}")
