"""Benchmark: the operator's cost at catalog scale (1,000 and 5,000 of each kind): memory, cold
start, restart, and how fast one new object is reconciled at that size.

For each size, on a fresh local stack, with the operator stopped, N Modules (one version each,
every third depending on the one before it) and N ModuleInstallations (across 50 tenant
namespaces, each asking for a permission nobody approved, so every one is admitted and its
workflow started) are created through the API. Then:

1. *first sight*: the operator starts on objects it never handled; we time until every Module
   is Available and every installation has its workflow (status.workflow.id), and sample the
   operator's RSS;
2. *reconcile latency at this size*: with the operator idle on that state, one new Module and
   then one new installation are created, PROBES times, one after the other; we time each from
   the moment the apiserver accepted it to the Module Available, the installation's workflow
   started (polling that one object every 20 ms);
3. *cold start*: the operator is stopped and started again on that state (as on an upgrade, a
   failover, a crash); we time until its handlers have run for every object (its own
   adx_reconciles_total counts them), then sample its RSS idle again: an operator's size for
   good is what its start grew it to (docs/scale.md#memory), and this start is the one every
   operator that has run for a while last made.

No worker runs: the workflows wait in Temporal, so what is measured is the operator alone; and
scanning is disabled (each Module Available at once, as measured before scanning existed: the
scans' own cost is bench_scanning's, the gate's bench_lifecycle's). Idle RSS is measured first,
on the empty cluster. Over the first sight and the cold start, the CPU time of every process on
the machine (and, over the first sight, the writes the apiserver served) are recorded too: on
a small machine the operator shares its cores with the control plane, and those figures say
who the time went to.
Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from measure import PeakRss, percentile  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.api.installation import INSTALLATION  # noqa: E402
from adx_modules.api.module import MODULE  # noqa: E402
from adx_modules.clients.kube import KubeClient  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from support.kube import Kubectl  # noqa: E402
from support.objects import installation_doc, module_doc  # noqa: E402
from support.operator import ServiceProcess  # noqa: E402

NAMESPACES = 50
CONCURRENCY = 32
DEADLINE = 900.0
PROBES = 20
POLL_SECONDS = 1.0
WRITE_VERBS = ("POST", "PATCH", "PUT", "DELETE")
CONTROL_PLANE = ("kube-apiserver", "etcd", "temporal", "kube-controller-manager", "postgres")


def modules(count: int) -> list[dict[str, Any]]:
    documents = []
    for i in range(count):
        extra: dict[str, Any] = {"permissions": ["database:read:bench"]}
        if i % 3 == 0 and i > 0:
            extra["dependencies"] = [{"moduleId": f"scale-{i - 1:05d}", "version": "^1.0"}]
        documents.append(module_doc(f"scale-{i:05d}", "1.0.0", **extra))
    return documents


def installations(count: int) -> list[dict[str, Any]]:
    documents = []
    for i in range(count):
        document = installation_doc(f"inst-{i:05d}", f"scale-{i:05d}")
        document["metadata"]["namespace"] = f"scale-{i % NAMESPACES:02d}"
        documents.append(document)
    return documents


async def create_all(kubeconfig: Path, count: int) -> float:
    """Server-side apply every object through the API, CONCURRENCY at a time."""
    started = time.monotonic()
    async with await KubeClient.connect(str(kubeconfig)) as kube:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def apply(kind: Any, document: dict[str, Any]) -> None:
            async with gate:
                await kube.apply_custom(kind, document, manager="bench")

        await asyncio.gather(*(apply(MODULE, d) for d in modules(count)))
        await asyncio.gather(*(apply(INSTALLATION, d) for d in installations(count)))
    return time.monotonic() - started


async def progress(
    kubeconfig: Path, kinds: tuple[str, ...] = ("modules", "installations")
) -> tuple[int, int]:
    """(Modules Available, installations with a workflow), as the apiserver shows them."""
    available = started = 0
    async with await KubeClient.connect(str(kubeconfig)) as kube:
        if "modules" in kinds:
            mods = await kube.list_custom(MODULE)
            available = sum(1 for m in mods if (m.get("status") or {}).get("phase") == "Available")
        if "installations" in kinds:
            mis = await kube.list_custom(INSTALLATION)
            started = sum(
                1 for i in mis if ((i.get("status") or {}).get("workflow") or {}).get("id")
            )
    return available, started


def metric(operator: ServiceProcess, name: str, labels: str) -> float:
    """The sum of the operator's own counter ``name`` over the series whose labels contain
    ``labels``."""
    text = httpx.get(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        found = re.match(name + r"\{([^}]*)\} (\S+)", line)
        if found and labels in found.group(1):
            total += float(found.group(2))
    return total


def reported_done(operator: ServiceProcess) -> tuple[float, float]:
    """(Modules the operator judged Available, install workflows it started): cheap to ask
    while it works, unlike a LIST of every object, which would load the apiserver it shares
    the cores with; the apiserver's LIST confirms at the end."""
    return (
        metric(operator, "adx_reconciles_total", 'kind="Module",outcome="Available"'),
        metric(operator, "adx_workflows_started_total", 'workflow="InstallModuleWorkflow"'),
    )


def reconciles(operator: ServiceProcess) -> dict[str, float]:
    """adx_reconciles_total by kind, from the operator's own metrics."""
    return {
        kind: metric(operator, "adx_reconciles_total", f'kind="{kind}"')
        for kind in ("Module", "ModuleInstallation")
    }


def cpu_seconds() -> dict[tuple[int, str], float]:
    """User + system CPU seconds of every process on the machine, by (pid, name)."""
    found: dict[tuple[int, str], float] = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is not None:
            found[(process.pid, process.info["name"] or "?")] = times.user + times.system
    return found


def cpu_split(
    before: dict[tuple[int, str], float], after: dict[tuple[int, str], float], operator: int
) -> dict[str, float]:
    """CPU seconds spent between two readings: the operator's, each control-plane component's,
    and everything else."""
    split: dict[str, float] = {}
    for (pid, name), seconds in after.items():
        spent = seconds - before.get((pid, name), 0.0)
        label = "operator" if pid == operator else name if name in CONTROL_PLANE else "other"
        split[label] = split.get(label, 0.0) + spent
    return split


def apiserver_writes(kubectl: Kubectl) -> float:
    """Write requests the apiserver has served, from its own metrics."""
    text = kubectl("get", "--raw", "/metrics").stdout
    total = 0.0
    for line in text.splitlines():
        found = re.match(r"apiserver_request_total\{([^}]*)\} (\S+)", line)
        if found and re.search(r'verb="(' + "|".join(WRITE_VERBS) + ')"', found.group(1)):
            total += float(found.group(2))
    return total


def rss_of(operator: ServiceProcess, seconds: float) -> float:
    """The operator's peak RSS (MiB) over ``seconds`` of idling."""
    assert operator._popen is not None
    with PeakRss({"operator": operator._popen.pid}) as rss:
        time.sleep(seconds)
    return rss.peaks["operator"] / 2**20


async def reconcile_latency(kubeconfig: Path) -> dict[str, list[float]]:
    """Seconds from creation to reconciled, for PROBES new Modules and installations."""
    found: dict[str, list[float]] = {"Module": [], "ModuleInstallation": []}

    async def until(kind: Any, name: str, namespace: str | None, done: Any) -> float:
        created = time.monotonic()
        while time.monotonic() - created < 60:
            if done((await kube.get_custom(kind, name, namespace)).get("status") or {}):
                return time.monotonic() - created
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{kind.kind} {name} was not reconciled within 60 s")

    async with await KubeClient.connect(str(kubeconfig)) as kube:
        for i in range(PROBES):
            module = module_doc(f"probe-{i:03d}", "1.0.0", permissions=["database:read:bench"])
            await kube.apply_custom(MODULE, module, manager="bench")
            found["Module"].append(
                await until(
                    MODULE,
                    module["metadata"]["name"],
                    None,
                    lambda s: s.get("phase") == "Available",
                )
            )
            installation = installation_doc(f"probe-{i:03d}", f"probe-{i:03d}")
            installation["metadata"]["namespace"] = "scale-00"
            await kube.apply_custom(INSTALLATION, installation, manager="bench")
            found["ModuleInstallation"].append(
                await until(
                    INSTALLATION,
                    installation["metadata"]["name"],
                    "scale-00",
                    lambda s: bool((s.get("workflow") or {}).get("id")),
                )
            )
    return found


def measure(count: int, workdir: Path) -> dict[str, Any]:
    """One size, on its own fresh stack: idle, cold start, latency at that size, restart."""
    results: dict[str, Any] = {"count": count}
    with DevStack(workdir / "stack") as stack:
        env = {
            **stack.environment(),
            "ADX_TEMPORAL_TASK_QUEUE": "scale",
            "ADX_SECURITY_SCANNING_ENABLED": "false",
        }
        kubectl = Kubectl(stack.kubeconfig)
        operator = ServiceProcess("operator", env, workdir / "operator.log")
        operator.start()
        results["idle"] = rss_of(operator, 10)
        operator.stop()
        for n in range(NAMESPACES):
            kubectl("create", "namespace", f"scale-{n:02d}")
        results["create"] = asyncio.run(create_all(stack.kubeconfig, count))
        print(f"created {count} Modules and {count} installations in {results['create']:.0f}s")

        writes_before, cpu_before = apiserver_writes(kubectl), cpu_seconds()
        operator.start()
        assert operator._popen is not None
        started = time.monotonic()
        done = (0, 0)
        with PeakRss({"operator": operator._popen.pid}) as rss:
            while time.monotonic() - started < DEADLINE:
                judged, workflows = reported_done(operator)
                if "modules" not in results and judged >= count:
                    done = asyncio.run(progress(stack.kubeconfig, ("modules",)))
                    if done[0] >= count:
                        results["modules"] = time.monotonic() - started
                if "modules" in results and workflows >= count:
                    done = asyncio.run(progress(stack.kubeconfig))
                    if done == (count, count):
                        break
                time.sleep(POLL_SECONDS)
            results["cold"] = time.monotonic() - started
            results["cold_rss"] = rss.peaks["operator"] / 2**20
        results["split"] = cpu_split(cpu_before, cpu_seconds(), operator._popen.pid)
        results["writes"] = apiserver_writes(kubectl) - writes_before
        results["cold_done"] = min(done)
        print(f"cold start: {done} after {results['cold']:.0f}s", flush=True)
        results["steady_rss"] = rss_of(operator, 10)
        with PeakRss({"operator": operator._popen.pid}) as rss:
            results["latency"] = asyncio.run(reconcile_latency(stack.kubeconfig))
        results["probe_rss"] = rss.peaks["operator"] / 2**20
        print(f"reconcile latency: {results['latency']}", flush=True)
        operator.stop()

        cpu_before = cpu_seconds()
        operator.start()
        assert operator._popen is not None
        started = time.monotonic()
        counted: dict[str, float] = {}
        handled = (0.0, 0.0)
        total = count + PROBES
        with PeakRss({"operator": operator._popen.pid}) as rss:
            while time.monotonic() - started < DEADLINE:
                counted = reconciles(operator)
                handled = (counted.get("Module", 0), counted.get("ModuleInstallation", 0))
                if min(handled) >= total:
                    break
                time.sleep(0.5)
            results["restart"] = time.monotonic() - started
            results["restart_rss"] = rss.peaks["operator"] / 2**20
        results["restart_split"] = cpu_split(cpu_before, cpu_seconds(), operator._popen.pid)
        results["restart_done"] = min(handled)
        print(f"restart: {counted} after {results['restart']:.0f}s", flush=True)
        results["restart_idle"] = rss_of(operator, 10)
        operator.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 5000])
    counts = parser.parse_args().counts
    runs = [
        measure(count, Path(tempfile.mkdtemp(prefix=f"adx-scale-{count}-"))) for count in counts
    ]

    def row(label: str, render: Any) -> str:
        return f"| {label} | " + " | ".join(render(r) for r in runs) + " |"

    def mib(key: str) -> Any:
        return lambda r: f"{r[key]:.0f} MiB"

    def handled(key: str, done: str, each: str) -> Any:
        return lambda r: f"{r[key]:.1f} s ({r[done]:,.0f}{each})"

    def latency(kind: str) -> Any:
        return lambda r: (
            f"{percentile(r['latency'][kind], 0.5) * 1000:.0f} / "
            f"{percentile(r['latency'][kind], 0.95) * 1000:.0f} ms"
        )

    largest = runs[-1]
    split, count = largest["split"], largest["count"]
    cores = psutil.cpu_count() or 1

    def shares(split: dict[str, float]) -> str:
        ordered = sorted(split.items(), key=lambda x: -x[1])
        return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in ordered)

    per_write = split.get("kube-apiserver", 0.0) / max(largest["writes"], 1.0) * 1000
    sizes = " | ".join(f"{r['count']:,} of each" for r in runs)
    rule = " | ".join("---" for _ in runs)
    body = "\n".join(
        [
            "## Operator at catalog scale: "
            + " and ".join(f"{c:,}" for c in counts)
            + " Modules and installations",
            "",
            f"{machine()}; a fresh local stack for each size; the operator alone (no worker: "
            f"the workflows wait in Temporal). N Modules (every third depends on the one "
            f"before it) and N installations across {NAMESPACES} namespaces, each admitted and "
            "its workflow started, created through the API before the operator starts "
            "(" + ", ".join(f"{r['create']:.0f} s for {r['count']:,}" for r in runs) + "). "
            "Reconcile latency: with the operator idle at that size, one new Module then one "
            f"new installation, {PROBES} times, each timed from its creation to Available / "
            "its workflow started (p50 / p95). Goals: both kinds reconciled from a cold start of "
            "the operator in at most 60 s (the operator started on that state, as on every "
            "upgrade, failover or crash: the *cold start* row); the operator at most 100 MiB "
            "idle and 150 MiB at 5,000. The *first sight* rows time the first start on objects "
            "never handled, which adds the writes and workflow starts every new object costs "
            "the apiserver and Temporal on the same cores.",
            "",
            f"| measure | {sizes} |",
            f"| --- | {rule} |",
            row("operator RSS, idle on an empty cluster", mib("idle")),
            row(
                "first sight: every Module Available",
                lambda r: f"{r.get('modules', float('nan')):.1f} s",
            ),
            row(
                "first sight: every installation admitted, workflow started",
                handled("cold", "cold_done", " handled"),
            ),
            row("operator peak RSS over the first sight", mib("cold_rss")),
            row("operator RSS, idle at this size after the first sight", mib("steady_rss")),
            row("reconcile latency at this size: a new Module Available", latency("Module")),
            row(
                "reconcile latency at this size: a new installation's workflow started",
                latency("ModuleInstallation"),
            ),
            row("operator peak RSS while those were reconciled", mib("probe_rss")),
            row(
                "**cold start** on that state: every object's handler ran",
                handled("restart", "restart_done", " of each kind"),
            ),
            row("operator peak RSS over the cold start", mib("restart_rss")),
            row("operator RSS, idle at this size after the cold start", mib("restart_idle")),
            "",
            f"Where the first sight's time went at {count:,} ({cores} cores, "
            f"{cores * largest['cold']:.0f} core-seconds of wall time): CPU seconds by process: "
            f"{shares(split)}. The apiserver served {largest['writes']:.0f} writes (status, "
            f"finalizers, Events), {per_write:.1f} ms of its CPU each; the operator spent "
            f"{split.get('operator', 0.0) / (2 * count) * 1000:.1f} ms of CPU per object. "
            f"The cold start's ({cores * largest['restart']:.0f} core-seconds): "
            f"{shares(largest['restart_split'])}.",
        ]
    )
    write_section("operator-scale", body)
    print(body)


if __name__ == "__main__":
    main()
