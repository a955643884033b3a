"""The scan workflow: one Module's artifact scanned, scored and the verdict written on it.

Why it exists: a Module must not become installable before its artifact is judged, and the
judging outlives any process: the workflow shows ``Scanning``, runs the scan activity (which
resolves the artifact to a digest, fetches it by digest, scans it or takes the cached verdict),
and writes ``Available`` or ``Rejected`` with the score. A scanner or registry that cannot be
reached is not a verdict: the workflow says so on the Module (``ScannerUnavailable``) and tries
again with growing pauses, for as long as it takes; the Module never becomes Available
meanwhile. A missing or mismatched artifact is a verdict (``Rejected``). Deterministic.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import reasons as r
    from adx_modules.catalog.scanning.contract import (
        ScanActivities,
        ScanRequest,
        ScanStatus,
        ScanVerdict,
    )
    from adx_modules.core.explain import explain

SCAN_LIMIT = timedelta(minutes=15)
SCAN_HEARTBEAT = timedelta(seconds=30)
SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_attempts=3,  # then the Module says why, and the workflow pauses before the next round
    non_retryable_error_types=r.permanent(),
)
REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=r.permanent(),
)
FIRST_PAUSE, LONGEST_PAUSE = timedelta(seconds=30), timedelta(minutes=10)


@workflow.defn(name=ScanActivities.SCAN_WORKFLOW)
class ScanModuleWorkflow:
    """Scan one Module object (by uid) and write its verdict; a rescan keeps the old verdict
    visible until the new one."""

    async def _report(self, status: ScanStatus) -> None:
        await workflow.execute_local_activity(
            ScanActivities.REPORT_SCAN,
            status,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=REPORT_RETRY,
        )

    @workflow.run
    async def run(self, request: ScanRequest) -> ScanVerdict | None:
        module, uid = request.module, request.uid
        if not request.rescan:
            await self._report(ScanStatus(module=module, uid=uid, state="scanning"))
        pause = FIRST_PAUSE
        while True:
            try:
                verdict: ScanVerdict = await workflow.execute_activity(
                    ScanActivities.SCAN_ARTIFACT,
                    request,
                    result_type=ScanVerdict,
                    start_to_close_timeout=SCAN_LIMIT,
                    heartbeat_timeout=SCAN_HEARTBEAT,  # a killed worker's scan is retried soon
                    retry_policy=SCAN_RETRY,
                )
                break
            except ActivityError as error:
                reason, message = explain(error)
                if not r.describe(reason).retryable:
                    failed = ScanStatus(
                        module=module, uid=uid, state="failed", reason=reason, message=message
                    )
                    await self._report(failed)
                    return None
                retrying = f"{message}; next attempt in {int(pause.total_seconds())} s"
                await self._report(
                    ScanStatus(
                        module=module, uid=uid, state="retrying", reason=reason, message=retrying
                    )
                )
                await workflow.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
        await self._report(ScanStatus(module=module, uid=uid, state="decided", verdict=verdict))
        return verdict
