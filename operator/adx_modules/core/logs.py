"""The processes' logs: one line per record, as text for a terminal or JSON for a log pipeline.

Why it exists: an operator's log is read by machines (Loki, Elasticsearch, ``kubectl logs | jq``)
as much as by people, and a line is only useful there if it says which object and which
workflow it is about. Every role logs through here, so every JSON line carries, when known:

- ``uid``, ``namespace``, ``name``, ``kind`` — the custom resource: from Kopf's per-object
  logger in the operator, and from the installation an activity works on in the worker;
- ``workflow_id``, ``run_id``, ``activity`` — the Temporal execution, in the worker.

The worker's activity interceptor (``core/metrics.py``) puts the activity's context into
``LOG_CONTEXT`` for the duration of the activity, so any module's plain ``logging`` call inside
an activity is attributed without passing anything along.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

LOG_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("adx_log_context", default=None)
"""What the code running now is working on (set around each activity in the worker)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_REF_FIELDS = ("kind", "namespace", "name", "uid")


def context_of(record: logging.LogRecord) -> dict[str, str]:
    """The object and execution a record is about: Kopf's ``k8s_ref`` (operator), temporalio's
    ``temporal_activity`` / ``temporal_workflow`` extras, and ``LOG_CONTEXT`` (worker)."""
    found: dict[str, str] = {}
    if workflow_id := getattr(record, "workflow_id", None):
        found["workflow_id"] = str(workflow_id)
    ref = getattr(record, "k8s_ref", None)
    if isinstance(ref, dict):
        found |= {key: str(ref[key]) for key in _REF_FIELDS if ref.get(key)}
    for extra in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, extra, None)
        if isinstance(details, dict):
            for key in ("workflow_id", "run_id", "activity_type", "workflow_type"):
                if details.get(key):
                    found.setdefault(key, str(details[key]))
    found |= {key: value for key, value in (LOG_CONTEXT.get() or {}).items() if value}
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Send every record to stderr in ``log_format`` (replacing handlers configured before)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
