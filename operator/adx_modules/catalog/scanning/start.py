"""Starting a Module's scan workflow: once per Module object, joined while it runs.

Why it exists: the operator starts a scan when a Module appears (or waits unscanned) and the
database watch starts rescans; both must use the same id and policies, so that a retried start
joins the running scan instead of doubling it, and a closed one may run again.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from adx_modules.catalog.scanning.contract import ScanActivities, ScanRequest


async def start_scan_workflow(client: Client, task_queue: str, request: ScanRequest) -> None:
    """Start the scan of ``request.uid``, or join the one that runs."""
    try:
        await client.start_workflow(
            ScanActivities.SCAN_WORKFLOW,
            request,
            id=ScanActivities.workflow_id(request.uid),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return
