"""JSON log lines name the custom resource and the workflow they are about."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from adx_modules.core.logs import LOG_CONTEXT, JsonFormatter, configure


def _line(**extra: object) -> dict[str, object]:
    record = logging.LogRecord(
        "adx_modules.test", logging.INFO, __file__, 1, "hi %s", ("you",), None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_from_kopfs_object_logger_carries_the_objects_uid() -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ModuleInstallation",
        "name": "a",
        "namespace": "t",
        "uid": "u-1",
    }
    line = _line(k8s_ref=ref)
    assert line["message"] == "hi you"
    assert line["level"] == "INFO"
    assert (line["kind"], line["namespace"], line["name"], line["uid"]) == (
        "ModuleInstallation",
        "t",
        "a",
        "u-1",
    )


def test_a_line_inside_an_activity_carries_its_workflow_and_resource() -> None:
    token = LOG_CONTEXT.set({"workflow_id": "t:a:1:install", "run_id": "r", "uid": "u-2"})
    try:
        line = _line()
    finally:
        LOG_CONTEXT.reset(token)
    assert (line["workflow_id"], line["run_id"], line["uid"]) == ("t:a:1:install", "r", "u-2")
    assert "workflow_id" not in _line()


def test_temporalios_own_extras_name_the_workflow() -> None:
    line = _line(temporal_workflow={"workflow_id": "w-1", "run_id": "r-1", "workflow_type": "X"})
    assert (line["workflow_id"], line["run_id"], line["workflow_type"]) == ("w-1", "r-1", "X")


def test_a_traceback_stays_inside_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exception"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_configure_sends_every_record_in_the_chosen_format(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure(log_format)  # type: ignore[arg-type]
        logging.getLogger("adx_modules.anything").info("ready")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    written = capsys.readouterr().err.strip()
    if log_format == "json":
        assert json.loads(written)["message"] == "ready"
    else:
        assert written.endswith("INFO adx_modules.anything ready")
