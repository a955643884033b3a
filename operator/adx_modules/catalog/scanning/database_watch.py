"""The database watch: a new vulnerability database rescans every scanned Module.

Why it exists: a verdict is only as good as the database it was reached with; an artifact that
was clean yesterday may have a critical vulnerability published today. One long-lived workflow
per task queue (``vulnerability-database-watch-<queue>``, started by the worker) asks the
database's repository for a new version every ``security.database_check_seconds`` (one HEAD
request), pulls it when there is one, and starts a rescan of every Module judged with another
version. A rescan keeps the old verdict visible until the new one is written; a Module that now
falls below the minimum becomes ``Rejected`` for new installs, and its running installations are
told (they keep running). Deterministic; its history is renewed (continue-as-new) every hundred
checks.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from adx_modules.catalog.scanning.contract import DatabaseWatch, ScanActivities

CHECKS_PER_RUN = 100
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=ScanActivities.WATCH_WORKFLOW)
class WatchVulnerabilityDatabaseWorkflow:
    """Check, pull, rescan; sleep; again."""

    @workflow.run
    async def run(self, state: DatabaseWatch) -> None:
        seen = state.seen
        for _ in range(CHECKS_PER_RUN):
            version: str = await workflow.execute_activity(
                ScanActivities.REFRESH_DATABASE,
                result_type=str,
                start_to_close_timeout=timedelta(minutes=15),
                retry_policy=RETRY,
            )
            if version != seen:
                await workflow.execute_activity(
                    ScanActivities.RESCAN_OUTDATED,
                    version,
                    result_type=int,
                    start_to_close_timeout=timedelta(minutes=10),
                    retry_policy=RETRY,
                )
                seen = version
            await workflow.sleep(timedelta(seconds=state.check_seconds))
        workflow.continue_as_new(DatabaseWatch(check_seconds=state.check_seconds, seen=seen))
