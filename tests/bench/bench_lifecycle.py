"""Benchmark: 100 ModuleInstallations applied at once, side by side with ``helm install``.

On a fresh local stack: the operator and the worker run as processes; 100 installations of one
module are applied in one ``kubectl apply``; we record when each becomes Ready, the apiserver's
write requests, and the peak RSS of both processes. In the same run, a Helm chart that renders
the very same objects (ServiceAccount, ConfigMap, Secret, Deployment, Service, NetworkPolicy) is
installed 100 times with ``helm install --wait``, sequentially and 4 at a time, against the same
apiserver. The operator runs twice: with the scan gate in the path (a real image, its verdict a
cache hit) and with scanning disabled. Three rounds of all four (the operator's two in alternating
order), min/median/max. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import concurrent.futures
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from report import machine, write_section  # noqa: E402

from adx_modules.api.installation import ModuleInstallationSpec  # noqa: E402
from adx_modules.api.module import ModuleSpec  # noqa: E402
from adx_modules.core.refs import InstallationRef  # noqa: E402
from adx_modules.devstack.controlplane import Endpoint  # noqa: E402
from adx_modules.devstack.images import push_image  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.devstack.toolchain import cache_dir  # noqa: E402
from adx_modules.sandboxes.container import manifests as container  # noqa: E402
from support.kube import Kubectl  # noqa: E402
from support.objects import installation_doc, module_doc  # noqa: E402
from support.operator import ServiceProcess  # noqa: E402

COUNT = 100
MODULE_ID = "bench-module"
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


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


def cpu_seconds(stack: DevStack, extra: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system, children included) each process of the run has used."""
    pids = dict(extra)
    if not (stack.control_plane and stack.temporal and stack.postgres):
        raise RuntimeError("the stack is not running")
    for process in [*stack.control_plane.processes, stack.temporal.process, stack.postgres.process]:
        if process is not None and process.pid is not None:
            pids[process.name] = process.pid
    used = {}
    for name, pid in pids.items():
        try:
            root = psutil.Process(pid)
            members = [root, *root.children(recursive=True)]
            used[name] = sum(sum(m.cpu_times()[:2]) for m in members)
        except psutil.Error:
            used[name] = 0.0
    return used


def api_writes(endpoint: Endpoint) -> int:
    """Write requests the apiserver has served (apiserver_request_total, write verbs)."""
    with endpoint.http() as client:
        text = client.get("/metrics").text
    total = 0
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{"):
            verb = re.search(r'verb="([A-Z]+)"', line)
            if verb and verb.group(1) in WRITE_VERBS:
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def _seconds(timestamp: str) -> float:
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def operator_run(
    stack: DevStack, workdir: Path, endpoint: Endpoint, *, scanning: bool, round_: int
) -> dict[str, Any]:
    """100 installations of one Module; with ``scanning``, the Module's image is a real one in
    the local registry, scanned before (its verdict cached by digest), so the Module costs a
    cache hit and every install passes the gate and runs the pinned digest."""
    run = f"{'gated' if scanning else 'ungated'}-{round_}"
    env = {
        **stack.environment(),
        "ADX_TEMPORAL_TASK_QUEUE": f"bench-{run}",
        "ADX_DATABASE_SCHEMA_NAME": f"bench_{run.replace('-', '_')}",
        "ADX_SECURITY_SCANNING_ENABLED": str(scanning).lower(),
        "ADX_SECURITY_SCAN_CACHE_DIR": str(workdir / "trivy"),
    }
    worker = ServiceProcess("worker", env, workdir / f"worker-{run}.log")
    operator = ServiceProcess("operator", env, workdir / f"operator-{run}.log")
    worker.start()
    operator.start()
    namespace = f"bench-{run}"
    kubectl = Kubectl(stack.kubeconfig, namespace)
    kubectl("create", "namespace", namespace)
    module_id = f"{MODULE_ID}-{run}"
    doc = module_doc(module_id, "1.0.0")
    if scanning:
        assert stack.registry is not None
        image = push_image(
            stack.registry.address, "bench/module", "1.0.0", {"m": b"bench\n"}, insecure=True
        )
        doc["spec"]["artifact"] = {"image": {"reference": image}}
        prime = module_doc(f"{module_id}-prime", "1.0.0")
        prime["spec"]["artifact"] = doc["spec"]["artifact"]
        kubectl.apply(prime)  # the first Module on the image: scanned cold
        kubectl(
            "wait", "--for=condition=Ready", "--timeout=300s", f"module/{module_id}-prime-1-0-0"
        )
    started = time.monotonic()
    kubectl.apply(doc)
    kubectl("wait", "--for=condition=Ready", "--timeout=300s", f"module/{module_id}-1-0-0")
    module_ready = time.monotonic() - started
    documents = [installation_doc(f"inst-{i:03d}", module_id) for i in range(COUNT)]
    assert worker._popen is not None
    assert operator._popen is not None
    ready_at: dict[str, float] = {}
    latencies: dict[str, float] = {}
    ours = {"operator": operator._popen.pid, "worker": worker._popen.pid}
    with PeakRss(ours) as rss:
        cpu_before = cpu_seconds(stack, ours)
        writes_before = api_writes(endpoint)
        started = time.monotonic()
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
        applied = time.monotonic() - started
        while len(ready_at) < COUNT and time.monotonic() - started < 900:
            for item in kubectl.json("get", "mi")["items"]:
                ready = [
                    c for c in item.get("status", {}).get("conditions", []) if c["type"] == "Ready"
                ]
                if ready and ready[0]["status"] == "True":
                    name = item["metadata"]["name"]
                    ready_at.setdefault(name, time.monotonic() - started)
                    # per object: created (apiserver) -> Ready (its lastTransitionTime)
                    latencies[name] = _seconds(ready[0]["lastTransitionTime"]) - _seconds(
                        item["metadata"]["creationTimestamp"]
                    )
            time.sleep(0.25)
        total = time.monotonic() - started
        writes = api_writes(endpoint) - writes_before
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack, ours).items()}
    print("cpu seconds:", {k: round(v, 1) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])})
    kubectl("delete", "namespace", namespace, "--timeout=300s")
    kubectl("delete", "modules", "--all", "--timeout=120s")
    operator.stop()
    worker.stop()
    return {
        "module_ready": module_ready,
        "ready": len(ready_at),
        "apply": applied,
        "total": total,
        "p50": percentile(list(latencies.values()), 0.5),
        "p95": percentile(list(latencies.values()), 0.95),
        "rate": len(ready_at) / total * 60,
        "writes": writes / COUNT,
        "rss_operator": rss.peaks["operator"] / 2**20,
        "rss_worker": rss.peaks["worker"] / 2**20,
    }


def equivalent_chart(directory: Path) -> Path:
    """A chart whose templates are the operator's own manifests for one installation."""
    ref = InstallationRef(namespace="NAMESPACE", name="RELEASE", uid="UID", generation=1)
    module = ModuleSpec.model_validate(module_doc(MODULE_ID, "1.0.0")["spec"])
    objects = container.manifests(
        ref,
        ModuleInstallationSpec(module=MODULE_ID),
        module,
        runner_images={},
        platform_label="adxcore.com/platform",
    )
    templates = directory / "templates"
    templates.mkdir(parents=True)
    (directory / "Chart.yaml").write_text(
        "apiVersion: v2\nname: bench-module\nversion: 1.0.0\nappVersion: 1.0.0\n"
    )
    for manifest in objects:
        manifest["metadata"].pop("ownerReferences", None)
        text = yaml.safe_dump(manifest, sort_keys=False)
        text = text.replace("RELEASE", "{{ .Release.Name }}").replace(
            "NAMESPACE", "{{ .Release.Namespace }}"
        )
        (templates / f"{manifest['kind'].lower()}.yaml").write_text(text)
    return directory


def helm_run(
    stack: DevStack, chart: Path, endpoint: Endpoint, parallel: int, round_: int
) -> dict[str, Any]:
    namespace = f"bench-helm-{parallel}-{round_}"
    Kubectl(stack.kubeconfig)("create", "namespace", namespace)
    helm = str(cache_dir() / "bin" / "helm")

    def install(index: int) -> float:
        began = time.monotonic()
        subprocess.run(
            [
                helm,
                "install",
                f"rel-{index:03d}",
                str(chart),
                "--namespace",
                namespace,
                "--kubeconfig",
                str(stack.kubeconfig),
                "--wait",
                "--timeout",
                "5m",
            ],
            check=True,
            capture_output=True,
        )
        return time.monotonic() - began

    writes_before = api_writes(endpoint)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        latencies = list(pool.map(install, range(COUNT)))
    total = time.monotonic() - started
    writes = api_writes(endpoint) - writes_before
    Kubectl(stack.kubeconfig)("delete", "namespace", namespace, "--timeout=300s")
    return {
        "ready": len(latencies),
        "total": total,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "rate": COUNT / total * 60,
        "writes": writes / COUNT,
    }


RUNS = 3
RUN_NAMES = ("gated", "ungated", "helm sequential", "helm 4 at a time")


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    """min / median / max."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {middle:.{digits}f} / {high:.{digits}f}{unit}"


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="adx-bench-"))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in RUN_NAMES}
    with DevStack(workdir / "stack") as stack:
        assert stack.control_plane is not None
        endpoint = stack.control_plane.admin
        chart = equivalent_chart(workdir / "chart")
        for round_ in range(RUNS):
            # the operator's two runs alternate which goes first: neither gets the warm stack
            order = (True, False) if round_ % 2 else (False, True)
            for scanning in order:
                found = operator_run(stack, workdir, endpoint, scanning=scanning, round_=round_)
                results["gated" if scanning else "ungated"].append(found)
                print(f"round {round_}, scanning {scanning}:", found, flush=True)
            for parallel, name in ((1, "helm sequential"), (4, "helm 4 at a time")):
                results[name].append(helm_run(stack, chart, endpoint, parallel, round_))
                print(f"round {round_}, {name}:", results[name][-1], flush=True)
    shutil.rmtree(workdir, ignore_errors=True)

    def row(name: str, runs: list[dict[str, Any]]) -> str:
        ready = min(r["ready"] for r in runs)
        return (
            f"| {name} | {ready}/{COUNT} | {spread([r['total'] for r in runs], ' s', 1)} | "
            f"{spread([r['rate'] for r in runs])} | {spread([r['p50'] for r in runs], ' s', 1)} | "
            f"{spread([r['p95'] for r in runs], ' s', 1)} | "
            f"{statistics.median(r['writes'] for r in runs):.1f} |"
        )

    def rate(name: str) -> float:
        return statistics.median(r["rate"] for r in results[name])

    gated, ungated = results["gated"], results["ungated"]
    body = "\n".join(
        [
            "## Lifecycle: 100 installations at once, and Helm side by side",
            "",
            f"{machine()}; one fresh local stack for every run, {RUNS} rounds (each: the "
            "operator with the scan gate in the path and with scanning disabled, in alternating "
            "order, then Helm sequential and 4 at a time); every install waits until its "
            "Deployment is ready (the operator: `Ready=True`; Helm: `--wait`). The operator's "
            "apply->ready is per object, from its creationTimestamp to its Ready condition's "
            "lastTransitionTime (1 s resolution); `kubectl apply` of the 100 objects itself "
            f"took {spread([r['apply'] for r in gated + ungated], ' s', 1)}. Targets: at least "
            "100 installs/min, not slower than Helm. Min / median / max of the runs.",
            "",
            "| run | ready (worst) | all ready after | installs/min | p50 apply->ready | "
            "p95 apply->ready | API writes per install (median) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            row("ADX operator, scan gate in the path (100 MIs in one `kubectl apply`)", gated),
            row("ADX operator, scanning disabled (the same)", ungated),
            row("`helm install --wait`, sequential", results["helm sequential"]),
            row("`helm install --wait`, 4 at a time", results["helm 4 at a time"]),
            "",
            "With the scan gate in the path, the median installs per minute are "
            f"{rate('gated') / rate('ungated'):.2f}x those without it (the Module's scan is a "
            "cache hit: the same image was scanned for another Module first; that Module was "
            f"Available {spread([r['module_ready'] for r in gated], ' s', 1)} after it was "
            f"applied, {spread([r['module_ready'] for r in ungated], ' s', 1)} without "
            "scanning). Ratio of the medians (installs per minute), the operator with the gate: "
            f"{rate('gated') / rate('helm sequential'):.1f}x Helm sequential, "
            f"{rate('gated') / rate('helm 4 at a time'):.1f}x Helm 4 at a time. Peak RSS "
            f"(max): operator {max(r['rss_operator'] for r in gated + ungated):.0f} MiB, worker "
            f"{max(r['rss_worker'] for r in gated + ungated):.0f} MiB. API writes count every "
            "write the apiserver served in the run (the controllers' and kwok's included), "
            "divided by 100.",
        ]
    )
    write_section("lifecycle", body)
    print(body)


if __name__ == "__main__":
    main()
