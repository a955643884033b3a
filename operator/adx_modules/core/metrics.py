"""Prometheus metrics of the operator and the worker, served on ``server.metrics_port``.

Why it exists: a platform team watches an operator through its metrics (the Helm chart's
ServiceMonitor scrapes them): how many reconciles, how many workflows started, how long each
activity takes and how often it fails. One module defines them, so names stay stable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from temporalio import activity
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from adx_modules.core import workflow_metrics
from adx_modules.core.logs import LOG_CONTEXT

RECONCILES = Counter(
    "adx_reconciles_total",
    "Handler runs of the operator, by kind and outcome.",
    ["kind", "outcome"],
)
WORKFLOWS_STARTED = Counter(
    "adx_workflows_started_total",
    "Lifecycle workflow starts the operator asked Temporal for (a request that found the "
    'workflow already running counts too; workflow_executions_total{outcome="started"} '
    "counts runs).",
    ["workflow"],
)
SCAN_RESULTS = Counter(
    "security_scan_results",
    "Findings of the artifact scans the worker ran (cache hits excluded), by severity and by the "
    "verdict of their scan against security.min_security_score (passed, failed).",
    ["severity", "verdict"],
)
# every series present at 0 from the start: a dashboard's increase() then counts the first scan
# (a series first seen at 3 would be read as having always been 3); the Module status's levels
for _severity in ("critical", "high", "medium", "low"):
    for _verdict in ("passed", "failed"):
        SCAN_RESULTS.labels(_severity, _verdict)
WORKFLOW_EXECUTIONS = Counter(
    workflow_metrics.WORKFLOW_EXECUTIONS,
    "Workflow runs the worker executed, by workflow type and outcome: started, then one of "
    "succeeded, failed, rolled_back (an update that failed and left the previous revision "
    "running), cancelled (superseded by a newer generation) or continued_as_new. Counted once "
    "per run, replays excluded.",
    ["workflow", "outcome"],
)
MODULE_INSTALLATIONS = Counter(
    workflow_metrics.MODULE_INSTALLATIONS,
    "Module installations that ended, by module and outcome (succeeded, failed).",
    ["module", "outcome"],
)
_FORWARDED: dict[str, tuple[Counter, tuple[str, ...]]] = {
    workflow_metrics.WORKFLOW_EXECUTIONS: (WORKFLOW_EXECUTIONS, ("workflow_type", "outcome")),
    workflow_metrics.MODULE_INSTALLATIONS: (MODULE_INSTALLATIONS, ("module", "outcome")),
}
ACTIVITY_SECONDS = Histogram(
    "adx_activity_seconds",
    "Duration of the worker's activities, by activity and outcome.",
    ["activity", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

MODULE_EXECUTION_SECONDS = Histogram(
    "module_execution_duration_seconds",
    "Duration of module calls in the WASM host, by installation, function and outcome "
    "(ok, or the reason the call failed: OutOfFuel, Trap, ...).",
    ["namespace", "installation", "function", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MODULE_RESOURCE_USAGE = Gauge(
    "module_resource_usage",
    "What an installation's last call used in the WASM host: fuel (instructions) and "
    "memory_bytes (its linear memory at the end).",
    ["namespace", "installation", "resource"],
)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` (all interfaces: the Service and the NetworkPolicy decide)."""
    start_http_server(port)


class WorkflowMetricsBridge:
    """The worker's Temporal runtime, with its metrics buffered instead of dropped, and the
    copy of the workflows' own counts (``core/workflow_metrics.py``) into this registry."""

    def __init__(self, buffer_size: int = 100_000) -> None:
        self._buffer = MetricBuffer(buffer_size)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self._buffer))

    def drain(self) -> None:
        """Add what the workflows counted since the last drain (the SDK's own metrics, also
        in the buffer, are dropped)."""
        for update in self._buffer.retrieve_updates():
            forwarded = _FORWARDED.get(update.metric.name)
            if forwarded is not None:
                counter, labels = forwarded
                attributes = update.attributes
                counter.labels(*(str(attributes.get(label, "")) for label in labels)).inc(
                    update.value
                )

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Drain every ``every`` seconds until ``stop``."""
        while not stop.is_set():
            self.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


def _installation_uid(args: Any) -> str | None:
    """The uid of the custom resource an activity works on, when its request names one."""
    for arg in args:
        ref = getattr(arg, "ref", arg)
        uid = getattr(ref, "uid", None)
        if isinstance(uid, str):
            return uid
    return None


class _TimedActivities(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        began = time.monotonic()
        outcome = "failed"
        context = {
            "workflow_id": info.workflow_id or "",
            "run_id": info.workflow_run_id or "",
            "activity_type": info.activity_type,
            "uid": _installation_uid(input.args) or "",
        }
        token = LOG_CONTEXT.set(context)
        try:
            result = await super().execute_activity(input)
            outcome = "succeeded"
            return result
        finally:
            LOG_CONTEXT.reset(token)
            ACTIVITY_SECONDS.labels(info.activity_type, outcome).observe(time.monotonic() - began)


class ActivityMetrics(Interceptor):
    """A worker interceptor that times every activity and names it, its workflow and its
    custom resource in every log record made while it runs (``core/logs.py``)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivities(next)
