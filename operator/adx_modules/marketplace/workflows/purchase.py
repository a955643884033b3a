"""PurchaseWorkflow and RefundPurchaseWorkflow: a payment, awaited, becomes an entitlement; a
refund takes it away.

Why it exists: a purchase spans minutes (a card) to days (an invoice) and must survive restarts
of everything; a webhook delivered twice, or a request retried, must grant once. The purchase is
one workflow per tenant and idempotency key (its id says so): create the payment -> wait for the
provider's word (a verified webhook or an approver, as a signal; after the timeout the provider
is asked once) -> settle (paid grants the entitlement) -> signal the install workflows that were
waiting for it. A refund is one workflow per purchase: refund at the provider -> revoke the
entitlement -> apply the revocation policy to the tenant's installations of the module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import reasons as r
    from adx_modules.marketplace.contract import (
        Granted,
        PaymentSignal,
        PaymentState,
        PurchaseActivities,
        PurchaseRequest,
        Revocation,
        Revoked,
        Settlement,
    )

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=30,  # a provider down for about half an hour, then the purchase fails
    non_retryable_error_types=r.permanent(),
)
STEP = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=15)  # every step heartbeats: a killed worker's step is retried soon
T = TypeVar("T")


async def _step(name: str, argument: object, result_type: type[T]) -> T:
    result: T = await workflow.execute_activity(
        name,
        argument,
        result_type=result_type,
        start_to_close_timeout=STEP,
        heartbeat_timeout=HEARTBEAT,
        retry_policy=RETRY,
    )
    return result


def _after_silence(asked: PaymentState, waited: int) -> PaymentSignal:
    """No word came in time: the provider's own answer decides (pending counts as failed)."""
    if asked.outcome == "paid":
        return PaymentSignal(ref=asked.ref, outcome="paid", detail="confirmed when asked")
    return PaymentSignal(
        ref=asked.ref, outcome="failed", detail=f"no confirmation within {waited}s"
    )


@workflow.defn(name="PurchaseWorkflow")
class PurchaseWorkflow:
    """One purchase of one listing by one tenant."""

    def __init__(self) -> None:
        self._heard: list[PaymentSignal] = []

    @workflow.signal(name=PurchaseActivities.PAYMENT_SIGNAL)
    def payment(self, signal: PaymentSignal) -> None:
        """The provider's word: a verified webhook, or an approver's decision. Repeats and
        words about other payments are kept but change nothing."""
        self._heard.append(signal)

    def _decision(self, ref: str) -> PaymentSignal | None:
        return next(
            (s for s in self._heard if s.ref in (ref, "") and s.outcome in ("paid", "failed")),
            None,
        )

    @workflow.run
    async def run(self, request: PurchaseRequest) -> str:
        state = await _step(PurchaseActivities.CREATE_PAYMENT, request, PaymentState)
        outcome, detail = state.outcome, state.detail
        if outcome == "pending":
            try:
                await workflow.wait_condition(
                    lambda: self._decision(state.ref) is not None,
                    timeout=timedelta(seconds=request.timeout_seconds),
                )
            except TimeoutError:
                asked = await _step(PurchaseActivities.PAYMENT_STATUS, request, PaymentState)
                self._heard.append(_after_silence(asked, request.timeout_seconds))
            decision = self._decision(state.ref) or self._heard[-1]
            outcome, detail = decision.outcome, decision.detail
        if outcome == "refunded":  # a refund before any word of payment: nothing was granted
            outcome = "failed"
        granted = await _step(
            PurchaseActivities.SETTLE,
            Settlement(purchase_id=request.purchase_id, outcome=outcome, detail=detail),
            Granted,
        )
        for waiting in granted.waiting_workflows:
            handle = workflow.get_external_workflow_handle(waiting)
            try:
                await handle.signal(PurchaseActivities.ENTITLEMENT_SIGNAL)
            except Exception:  # it ended meanwhile: a newer generation checks for itself
                workflow.logger.info("install workflow %s no longer waits", waiting)
        return outcome


@workflow.defn(name="RefundPurchaseWorkflow")
class RefundPurchaseWorkflow:
    """The refund of one purchase, and what it takes away."""

    @workflow.run
    async def run(self, settlement: Settlement) -> int:
        """Returns how many installations the revocation policy was applied to."""
        await _step(PurchaseActivities.REFUND_PAYMENT, settlement.purchase_id, type(None))
        revoked = await _step(PurchaseActivities.REVOKE, settlement, Revoked)
        for target in revoked.installations:
            await workflow.execute_child_workflow(
                PurchaseActivities.ENFORCE_REVOCATION,
                Revocation(
                    ref=target.ref,
                    spec=target.spec,
                    isolation=target.isolation,
                    policy=revoked.policy,
                    message=f"the entitlement was revoked: {settlement.detail}",
                ),
                id=f"{workflow.info().workflow_id}/{target.ref.namespace}/{target.ref.name}",
                result_type=str,
            )
        return len(revoked.installations)
