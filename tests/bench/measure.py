"""What several benchmarks measure the same way: peak memory, percentiles, min/median/max, and
whose writes the apiserver served.

Why it exists: the lifecycle and scale benchmarks sample the same processes and count the same
writes; one reading of each keeps their figures comparable.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

# the user agent's product (before the first "/") -> who wrote; anything else is "other"
WRITERS = {
    "adx-module-operator": "operator",  # the operator's and the worker's own client
    "kopf": "operator",  # Kopf, inside the operator: finalizers, its state, Events
    "Helm": "helm",
    "kube-controller-manager": "controllers",
    "kube-scheduler": "controllers",
    "kwok": "kwok",
    "adx-bench": "bench",  # the benchmark creating the objects it measures
}


class PeakRss:
    """Samples the resident memory of processes (with their children) in the background."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                try:
                    process = psutil.Process(pid)
                    rss = process.memory_info().rss + sum(
                        child.memory_info().rss for child in process.children(recursive=True)
                    )
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks[name], rss)
            time.sleep(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.5 is the median)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    """min / median / max."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {middle:.{digits}f} / {high:.{digits}f}{unit}"


def writer(user_agent: str) -> str:
    """Who wrote, from a request's user agent (``kopf/1.38.0``, ``Helm/v3.16.2``, ...)."""
    product = user_agent.split("/", 1)[0].split(" ", 1)[0]
    return WRITERS.get(product, "other")


class AuditLog:
    """The writes in the apiserver's audit log (``DevStack(audit=True)``) from a mark on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def writes_since(self, mark: int) -> Counter[tuple[str, str]]:
        """(writer, ``verb resource[/subresource]``) -> how many, every answer counted."""
        counts: Counter[tuple[str, str]] = Counter()
        with self.path.open("rb") as log:
            log.seek(mark)
            for line in log:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line still being written
                ref = event.get("objectRef", {})
                what = ref.get("resource", "?")
                if ref.get("subresource"):
                    what += "/" + ref["subresource"]
                counts[(writer(event.get("userAgent", "")), f"{event['verb']} {what}")] += 1
        return counts


def per_install(writes: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """The writes an install causes: leader-election Lease renewals (every few seconds, however
    many installs run) left out."""
    return Counter({key: n for key, n in writes.items() if key[1].split()[-1] != "leases"})


def by_writer(writes: Counter[tuple[str, str]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (who, _), count in writes.items():
        totals[who] += count
    return totals
