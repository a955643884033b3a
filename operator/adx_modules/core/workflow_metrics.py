"""Counts made inside workflows: how each run ended, and how each installation turned out.

Why it exists: ``workflow_executions_total`` must count a run's start and its end once each,
although a worker replays a workflow's history every time it rebuilds it (after a restart, after
an eviction from its cache) and an activity may run more than once. Counting in an activity would
count retries; counting in plain workflow code would count replays. Temporal's workflow metric
meter records nothing while replaying, so the counts are made with it: by a workflow interceptor
every run passes through (started; succeeded, failed, rolled_back, cancelled, continued_as_new),
and by the install workflow for ``module_installations_total``. The worker's runtime buffers
those updates; ``metrics.WorkflowMetricsBridge`` copies them into the Prometheus registry.

This module runs inside the workflow sandbox: it imports nothing but temporalio.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

WORKFLOW_EXECUTIONS = "workflow_executions"
MODULE_INSTALLATIONS = "module_installations"
ROLLED_BACK = "rolled-back"
"""In a failed workflow's ``ApplicationError`` details: the failure was rolled back (an update
that left the previous revision running)."""


def _outcome_of(error: BaseException) -> str | None:
    """How a run that raised ``error`` ended; None when it did not end (a plain exception fails
    the workflow *task*, which Temporal retries)."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    if isinstance(error, workflow.ContinueAsNewError):
        return "continued_as_new"
    if isinstance(error, ApplicationError) and ROLLED_BACK in error.details:
        return "rolled_back"
    if isinstance(error, FailureError):
        return "failed"
    return None


def _count_execution(outcome: str) -> None:
    counter = workflow.metric_meter().create_counter(
        WORKFLOW_EXECUTIONS, "Workflow runs, by workflow type and outcome."
    )
    counter.add(1, {"outcome": outcome})


def count_installation(module: str, outcome: str) -> None:
    """One installation of ``module`` ended with ``outcome`` (succeeded, failed)."""
    counter = workflow.metric_meter().create_counter(
        MODULE_INSTALLATIONS, "Module installations, by module and outcome."
    )
    counter.add(1, {"module": module, "outcome": outcome})


class _CountedRun(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        _count_execution("started")
        try:
            result = await super().execute_workflow(input)
        except BaseException as error:
            if (outcome := _outcome_of(error)) is not None:
                _count_execution(outcome)
            raise
        _count_execution("succeeded")
        return result


class WorkflowMetrics(Interceptor):
    """A worker interceptor that counts every workflow run's start and end."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _CountedRun
