"""SyncMarketplaceWorkflow: the remote marketplace, pulled in every few minutes, for good.

Why it exists: the service's "marketplace sync workflows". One long-lived workflow per task
queue (started by the worker when ``marketplace.base_url`` is set, replaced when it starts again
so new settings apply) runs a round, records it, sleeps ``sync_interval_seconds``, and again. A
round that fails is retried a few times with backoff, then recorded with its error (visible in
``market_sync`` and the API's ``/api/v1/marketplace/sync``) — nothing of what was synced before
is removed because a remote failed. Deterministic; its history is renewed every hundred rounds.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from adx_modules.marketplace.contract import PurchaseActivities, SyncOutcome, SyncRequest

ROUNDS_PER_RUN = 100
ROUND = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=3,
)
RECORD = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name="SyncMarketplaceWorkflow")
class SyncMarketplaceWorkflow:
    """Pull, record; sleep; again."""

    @workflow.run
    async def run(self, request: SyncRequest) -> None:
        for _ in range(ROUNDS_PER_RUN):
            try:
                outcome = await workflow.execute_activity(
                    PurchaseActivities.PULL_REMOTE,
                    request,
                    result_type=SyncOutcome,
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=ROUND,
                )
            except ActivityError as error:
                cause = error.cause or error
                outcome = SyncOutcome(base_url=request.base_url, error=str(cause))
            await workflow.execute_activity(
                PurchaseActivities.RECORD_SYNC,
                outcome,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RECORD,
            )
            await workflow.sleep(timedelta(seconds=request.interval_seconds))
        workflow.continue_as_new(request)
