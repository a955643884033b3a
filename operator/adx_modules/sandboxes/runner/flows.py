"""Starting a module workflow for a module, and telling it how the run goes.

Why it exists: ``sdk.workflows.start(name, input)`` is a module asking the platform for durable
work; the runner holds the Temporal client (a module holds nothing), checks the caller's
``workflow:execute:<name>`` first, and starts ``ModuleWorkflow`` in the caller's tenant only. An
idempotency key makes a retried start join the same run; a run of another tenant cannot even be
looked at.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from adx_module_sdk.errors import PermissionDeniedError
from adx_modules.sandboxes.contract import ModuleWorkflowActivities, ModuleWorkflowRequest


class WorkflowStarter:
    """Module workflows on the worker's task queue."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def start(
        self,
        namespace: str,
        caller: str,
        workflow: str,
        given: Any,
        *,
        installation: str | None = None,
        key: str | None = None,
    ) -> str:
        """The run's id (joined when ``key`` was used before)."""
        target = installation or caller
        request = ModuleWorkflowRequest(
            namespace=namespace, installation=target, workflow=workflow, input=given, caller=caller
        )
        run_id = ModuleWorkflowActivities.workflow_id(
            namespace, target, workflow, key or uuid.uuid4().hex
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):  # the same key: the same run
            await self._client.start_workflow(
                ModuleWorkflowActivities.WORKFLOW,
                request,
                id=run_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        return run_id

    async def status(self, namespace: str, run_id: str) -> dict[str, Any]:
        """``{"id", "status", "progress" | "result" | "error"}``; only the caller's tenant's."""
        if not run_id.startswith(f"mw/{namespace}/"):
            raise PermissionDeniedError(f"{run_id} is not a workflow of this tenant")
        handle = self._client.get_workflow_handle(run_id)
        described = await handle.describe()
        status = described.status or WorkflowExecutionStatus.RUNNING
        answer: dict[str, Any] = {"id": run_id, "status": status.name}
        if status == WorkflowExecutionStatus.RUNNING:
            answer["progress"] = await handle.query("progress")
        elif status == WorkflowExecutionStatus.COMPLETED:
            answer["result"] = await handle.result()
        else:
            try:
                await handle.result()
            except WorkflowFailureError as failure:
                cause: BaseException = failure
                while isinstance(getattr(cause, "cause", None), BaseException):
                    cause = cause.cause  # type: ignore[attr-defined]  # the step's own error
                answer["error"] = str(cause)
        return answer
