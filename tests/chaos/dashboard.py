"""The Grafana dashboard drawn from a real run: Prometheus scrapes the service, the dashboard's
own queries are asked of it, and each panel is drawn.

Why it exists: the docs show the dashboard as it looks on a real run (the chaos run), not a
mock-up. Grafana itself cannot be had on this machine (its front end is a large Node build and its
image renderer downloads a browser), so the panels are drawn with matplotlib from exactly the
queries in ``helm/.../dashboards/adx-module-operator.json``, answered by a real Prometheus
(built from the Go module proxy like the rest of the local stack) that scraped every process of
the run.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from adx_modules.devstack.process import ManagedProcess, free_port
from adx_modules.devstack.toolchain import GoTool, build_tool
from support.operator import ServiceProcess

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "helm" / "adx-module-operator" / "dashboards" / "adx-module-operator.json"
PROMETHEUS = GoTool(
    "prometheus", ("github.com/prometheus/prometheus/cmd/prometheus",), ("prometheus",)
)
SCRAPE_SECONDS = 5


class Prometheus:
    """A Prometheus server scraping the given processes' metrics ports every 5 s."""

    def __init__(
        self, work: Path, bin_dir: Path, processes: dict[str, list[ServiceProcess]]
    ) -> None:
        build_tool(PROMETHEUS, bin_dir)
        self.port = free_port(None)
        work.mkdir(parents=True, exist_ok=True)
        jobs = [
            {
                "job_name": role,
                "scrape_interval": f"{SCRAPE_SECONDS}s",
                "static_configs": [{"targets": [f"127.0.0.1:{p.metrics_port}" for p in group]}],
            }
            for role, group in processes.items()
        ]
        config = work / "prometheus.yml"
        config.write_text(json.dumps({"scrape_configs": jobs}))
        self.process = ManagedProcess(
            "prometheus",
            [
                str(bin_dir / "prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            work / "prometheus.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        self.process.wait_until(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200, 60, "ready"
        )

    def stop(self) -> None:
        self.process.stop()

    def range(self, expression: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.url}/api/v1/query_range",
            params={"query": expression, "start": start, "end": end, "step": step},
            timeout=60,
        ).json()
        if answer.get("status") != "success":
            raise RuntimeError(f"{expression}: {answer}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result


def _expression(expr: str, start: float, end: float) -> str:
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__range", f"{int(end - start)}s")
        .replace("$job", ".*")
    )


def _legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def render(prometheus: Prometheus, start: float, end: float, picture: Path) -> int:
    """Draw every panel over [start, end] into ``picture``; the number of series drawn."""
    import matplotlib  # noqa: PLC0415 - installed by make chaos, not a runtime dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    dashboard = json.loads(DASHBOARD.read_text())
    panels = sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    rows = (len(panels) + 1) // 2
    figure, axes = plt.subplots(rows, 2, figsize=(16, 3.2 * rows))
    drawn = 0
    step = max(SCRAPE_SECONDS, (end - start) / 300)
    for axis, panel in zip(axes.flat, panels, strict=False):
        axis.set_title(panel["title"], fontsize=10, loc="left")
        for target in panel["targets"]:
            series = prometheus.range(_expression(target["expr"], start, end), start, end, step)
            for one in series[:12]:
                points = [(float(t) - start, float(v)) for t, v in one["values"] if v != "NaN"]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                axis.plot(
                    xs, ys, linewidth=1.2, label=_legend(target["legendFormat"], one["metric"])
                )
                drawn += 1
        axis.set_xlabel("seconds into the run", fontsize=8)
        axis.tick_params(labelsize=8)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7, loc="upper left", ncol=2)
        else:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
    figure.suptitle(
        f"{dashboard['title']} — the chaos run of {when} (Prometheus, {SCRAPE_SECONDS} s scrapes)"
    )
    figure.tight_layout()
    picture.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(picture, dpi=80)
    plt.close(figure)
    return drawn


def wait_for_scrape() -> None:
    """One more scrape after the run, so its last counts are in."""
    time.sleep(SCRAPE_SECONDS * 2)
