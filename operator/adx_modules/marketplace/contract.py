"""The marketplace's internal contract: what crosses Temporal between its workflows and activities,
and what the install path asks of it.

Why it exists: a purchase runs as a workflow in the worker, is started and signalled from the
HTTP API (requests, provider webhooks), and is checked by the install and update workflows of
the installations feature. All of them exchange these frozen models, declared once, below each.
Workflow ids are derived from the tenant and the caller's idempotency key, so a retried request
attaches to the purchase it already started.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Literal

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.core.refs import InstallationRef, Payload

Provider = Literal["stripe", "manual"]
Outcome = Literal["paid", "failed", "refunded"]
Policy = Literal["suspend", "uninstall"]


def purchase_id(tenant: str, idempotency_key: str) -> str:
    """``pur-<24 hex>``: the same tenant and key always name the same purchase."""
    digest = hashlib.sha256(f"{tenant}\0{idempotency_key}".encode()).hexdigest()
    return f"pur-{digest[:24]}"


def purchase_workflow_id(purchase: str) -> str:
    return f"purchase/{purchase}"


def refund_workflow_id(purchase: str) -> str:
    return f"purchase/{purchase}/refund"


class PurchaseActivities:
    """Activity, workflow and signal names (called by name across features)."""

    CREATE_PAYMENT = "create_payment"
    PAYMENT_STATUS = "payment_status"
    SETTLE = "settle_purchase"
    REFUND_PAYMENT = "refund_payment"
    REVOKE = "revoke_entitlement"
    CHECK_ENTITLEMENT = "check_entitlement"
    PAYMENT_SIGNAL = "payment"
    ENTITLEMENT_SIGNAL = "entitlement_granted"
    ENFORCE_REVOCATION = "EnforceRevocationWorkflow"
    PULL_REMOTE = "pull_remote_marketplace"
    RECORD_SYNC = "record_marketplace_sync"


class PurchaseRequest(Payload):
    """One purchase of a listing by a tenant: the purchase workflow's input."""

    purchase_id: str
    tenant: str
    user_id: str
    listing: str
    module_id: str
    amount: Decimal
    currency: str
    provider: Provider
    payment_token: str = ""
    """The card token or payment method id the caller's front end got from the provider (never
    stored: it is used once, to create the payment); empty for an invoice."""
    timeout_seconds: int
    """How long to wait for the provider's (or an approver's) confirmation."""


class PaymentState(Payload):
    """Where a payment stands at its provider."""

    ref: str
    """The provider's id of the payment (a PaymentIntent's id, an invoice number)."""
    outcome: Outcome | Literal["pending"]
    detail: str = ""


class PaymentSignal(Payload):
    """A provider's word on a payment (a verified webhook, an approver's decision)."""

    ref: str
    outcome: Outcome
    detail: str = ""


class Settlement(Payload):
    """A purchase's end, recorded: paid (the entitlement granted), failed or refunded."""

    purchase_id: str
    outcome: Outcome
    detail: str = ""


class Granted(Payload):
    """What a paid purchase changed: the install workflows that were waiting for it."""

    waiting_workflows: list[str] = []


class RevokedInstallation(Payload):
    """An installation of a module whose entitlement was revoked, as it is now."""

    ref: InstallationRef
    spec: ModuleInstallationSpec
    isolation: str | None = None
    """The isolation it runs in (status.isolation); None: ask every sandbox backend."""


class Revoked(Payload):
    """The installations a refund took the module from, and the policy to apply to them."""

    installations: list[RevokedInstallation] = []
    policy: Policy = "suspend"


class Revocation(RevokedInstallation):
    """The enforcement of one revoked entitlement on one installation (the installations
    feature's EnforceRevocationWorkflow runs it)."""

    policy: Policy
    message: str


class EntitlementQuery(Payload):
    """May this tenant run this module?"""

    tenant: str
    module_id: str


class Entitlement(Payload):
    """The answer: free, paid and held, or paid and missing (naming what to buy)."""

    paid: bool
    entitled: bool
    listing: str = ""
    price: str = ""
    """E.g. ``49.00 USD`` or ``9.99 USD monthly``."""

    @property
    def allowed(self) -> bool:
        return not self.paid or self.entitled


def sync_workflow_id(task_queue: str) -> str:
    """One sync of the remote marketplace per task queue (per deployment of the service)."""
    return f"marketplace-sync-{task_queue}"


class SyncRequest(Payload):
    """Where the remote marketplace is, and how often to sync it."""

    base_url: str
    interval_seconds: int


class SyncOutcome(Payload):
    """One round of the sync: what it did, or why it failed."""

    base_url: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: list[str] = []
    """Objects of the remote's names that exist here without the synced label: never touched."""
    error: str = ""
