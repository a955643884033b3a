"""Recorded workflow histories replay under the current code (no services needed).

The histories in ``tests/fixtures/histories`` were recorded from real runs by
``tests/e2e/test_replay.py`` (``ADX_RECORD_HISTORIES=1``). A change to a workflow that would
break the workflows already running in production fails here. The ``before-features-*``
histories were recorded by the release before the code was cut by feature: workflows in flight
across that upgrade keep running.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from adx_modules.core.metrics import (
    MODULE_INSTALLATIONS,
    WORKFLOW_EXECUTIONS,
    WorkflowMetricsBridge,
)
from adx_modules.core.workflow_metrics import WorkflowMetrics
from adx_modules.installations.contract import LifecycleRequest
from adx_modules.installations.workflows.install import InstallModuleWorkflow
from adx_modules.service.worker import WORKFLOWS

RECORDED = sorted((Path(__file__).parents[1] / "fixtures" / "histories").glob("*.json"))


def test_histories_were_recorded() -> None:
    assert {path.stem for path in RECORDED} >= {
        "install",
        "update-rollback",
        "uninstall",
        "approval-wait",
        "dependencies",
        "failed-install",
    }


HISTORIES = {path.stem: path.read_text() for path in RECORDED}


@pytest.fixture(scope="module")
def workflow_metrics() -> WorkflowMetricsBridge:
    return WorkflowMetricsBridge()


def _counted() -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for counter in (WORKFLOW_EXECUTIONS, MODULE_INSTALLATIONS)
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    ]


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays(name: str, workflow_metrics: WorkflowMetricsBridge) -> None:
    """... with the worker's interceptors and metrics: a replay counts no run and no
    installation (a worker rebuilding a workflow after a restart must not count it again)."""
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=pydantic_data_converter,
        interceptors=[WorkflowMetrics()],
        runtime=workflow_metrics.runtime,
    )
    before = _counted()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    workflow_metrics.drain()
    assert _counted() == before


@workflow.defn(name="InstallModuleWorkflow", sandboxed=False)
class InstallWithAnExtraStep:
    """A deliberately non-deterministic change: a step the recorded install never took."""

    @workflow.run
    async def run(self, request: LifecycleRequest) -> str:
        await workflow.execute_activity(
            "an-extra-step", request.ref, start_to_close_timeout=timedelta(seconds=5)
        )
        return await InstallModuleWorkflow().run(request)


async def test_a_non_deterministic_change_is_caught() -> None:
    """The negative control: replay is able to fail, so its passing above means something."""
    history = WorkflowHistory.from_json("install", HISTORIES["install"])
    replayer = Replayer(workflows=[InstallWithAnExtraStep], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondeterminism" in str(result.replay_failure).lower()
