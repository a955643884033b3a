"""The Grafana dashboard in the chart asks only for metrics the service serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from adx_modules.core import metrics  # noqa: F401  (registers the service's metrics)

DASHBOARD = (
    Path(__file__).parents[2] / "helm/adx-module-operator/dashboards/adx-module-operator.json"
)
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "le", "outcome"}


def served() -> set[str]:
    """Every sample name the registry serves (counters' _total, histograms' _bucket, ...)."""
    return {sample.name for family in REGISTRY.collect() for sample in family.samples} | {
        f"{family.name}{suffix}"
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }


def asked(expression: str) -> set[str]:
    """The metric names an expression selects (a name directly before ``{`` or ``[``)."""
    return set(re.findall(r"([a-z_:][a-z0-9_:]*)\s*[{\[]", expression)) - PROMQL_WORDS


def test_every_panel_queries_metrics_the_service_serves() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = set().union(*(asked(e) for e in expressions))
    assert {"module_installations_total", "workflow_executions_total"} <= names
    assert names <= served(), names - served()


def test_the_issue_names_are_all_on_the_dashboard() -> None:
    text = DASHBOARD.read_text()
    for name in (
        "module_installations_total",
        "module_execution_duration_seconds",
        "module_resource_usage",
        "security_scan_results",
        "workflow_executions_total",
    ):
        assert name in text
