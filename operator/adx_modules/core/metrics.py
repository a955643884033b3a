"""Prometheus metrics of the operator and the worker, served on ``server.metrics_port``.

Why it exists: a platform team watches an operator through its metrics (the Helm chart's
ServiceMonitor scrapes them): how many reconciles, how many workflows started, how long each
activity takes and how often it fails. One module defines them, so names stay stable.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

RECONCILES = Counter(
    "adx_reconciles_total",
    "Handler runs of the operator, by kind and outcome.",
    ["kind", "outcome"],
)
WORKFLOWS_STARTED = Counter(
    "adx_workflows_started_total",
    "Lifecycle workflows the operator started (attaching to a running one does not count).",
    ["workflow"],
)
SCAN_RESULTS = Counter(
    "security_scan_results",
    "Findings of the artifact scans the worker ran (cache hits excluded), by severity and by the "
    "verdict of their scan against security.min_security_score (passed, failed).",
    ["severity", "verdict"],
)
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


class _TimedActivities(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = getattr(input.fn, "__temporal_activity_definition", None)
        activity = getattr(name, "name", None) or getattr(input.fn, "__name__", "unknown")
        began = time.monotonic()
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
            outcome = "succeeded"
            return result
        finally:
            ACTIVITY_SECONDS.labels(activity, outcome).observe(time.monotonic() - began)


class ActivityMetrics(Interceptor):
    """A worker interceptor that times every activity."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimedActivities(next)
