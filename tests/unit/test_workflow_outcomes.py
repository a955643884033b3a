"""How a workflow run's end is named in workflow_executions_total."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from adx_modules.core.workflow_metrics import ROLLED_BACK, _outcome_of


def test_each_way_a_run_ends_has_its_outcome() -> None:
    assert _outcome_of(asyncio.CancelledError()) == "cancelled"
    continued = workflow.ContinueAsNewError.__new__(workflow.ContinueAsNewError)
    assert _outcome_of(continued) == "continued_as_new"
    assert _outcome_of(ApplicationError("x", ROLLED_BACK, non_retryable=True)) == "rolled_back"
    assert _outcome_of(ApplicationError("x", non_retryable=True)) == "failed"


def test_a_plain_exception_fails_the_task_not_the_run() -> None:
    # Temporal retries the workflow task: the run has not ended, nothing is counted
    assert _outcome_of(RuntimeError("bug")) is None
