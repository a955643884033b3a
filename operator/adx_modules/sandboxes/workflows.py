"""``ModuleWorkflow``: a workflow a module contributes, run durably by Temporal.

Why it exists: a module declares a long or failure-prone step with ``@workflow(name,
timeout_seconds, max_attempts)``; another module of the tenant (holding
``workflow:execute:<name>``) starts it and gets an id back at once. The step then runs in the
module's own sandbox under Temporal's retries: a runner or worker killed meanwhile is retried
from where it was, the declared timeout and attempts bound it, and its progress and result stay
queryable by the id. Deterministic: the module is reached only through activities, by name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from adx_modules.api import reasons as r
    from adx_modules.sandboxes.contract import (
        ModuleWorkflowActivities,
        ModuleWorkflowRequest,
        StepPolicy,
    )

# what no retry can fix: the module declares no such workflow, or the installation is gone
PERMANENT = [r.MODULE_WORKFLOW_UNKNOWN]


@workflow.defn(name=ModuleWorkflowActivities.WORKFLOW)
class ModuleWorkflow:
    def __init__(self) -> None:
        self._progress = "queued"

    @workflow.run
    async def run(self, request: ModuleWorkflowRequest) -> Any:
        self._progress = "describing"
        policy: StepPolicy = await workflow.execute_activity(
            ModuleWorkflowActivities.DESCRIBE,
            request,
            result_type=StepPolicy,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                maximum_attempts=10,
                maximum_interval=timedelta(seconds=10),
                non_retryable_error_types=PERMANENT,
            ),
        )
        self._progress = "running"
        output = await workflow.execute_activity(
            ModuleWorkflowActivities.RUN,
            request.model_copy(update={"host": policy.host}),
            start_to_close_timeout=timedelta(seconds=policy.timeout_seconds),
            retry_policy=RetryPolicy(
                maximum_attempts=policy.max_attempts, non_retryable_error_types=PERMANENT
            ),
        )
        self._progress = "done"
        return output

    @workflow.query
    def progress(self) -> str:
        return self._progress
