"""Making way for a newer generation: the previous generation's workflow stops first.

Why it exists: an edit while a workflow runs starts the next generation's workflow; two
workflows must never change one sandbox at once. The newer one cancels the older and waits
until it has closed before it touches anything.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adx_modules.installations.contract import Activities


class SupersedeActivities:
    """Uses the Temporal client to cancel and await a workflow."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name=Activities.SUPERSEDE)
    async def supersede(self, workflow_id: str) -> str:
        """Cancel ``workflow_id`` if it runs; return its final status once it has closed."""
        handle = self._client.get_workflow_handle(workflow_id)
        cancelled = False
        while True:
            try:
                description = await handle.describe()
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return "absent"
                raise
            if description.status != WorkflowExecutionStatus.RUNNING:
                return description.status.name if description.status else "UNKNOWN"
            if not cancelled:
                await handle.cancel()
                cancelled = True
            activity.heartbeat(f"waiting for {workflow_id} to close")
            await asyncio.sleep(0.5)
