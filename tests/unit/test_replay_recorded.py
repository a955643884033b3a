"""Recorded workflow histories replay under the current code (no services needed).

The histories in ``tests/fixtures/histories`` were recorded from real runs by
``tests/e2e/test_replay.py`` (``ADX_RECORD_HISTORIES=1``). A change to a workflow that would
break the workflows already running in production fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from adx_modules.service.worker import WORKFLOWS

RECORDED = sorted((Path(__file__).parents[1] / "fixtures" / "histories").glob("*.json"))


def test_histories_were_recorded() -> None:
    assert {path.stem for path in RECORDED} >= {"install", "update-rollback", "uninstall"}


HISTORIES = {path.stem: path.read_text() for path in RECORDED}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
