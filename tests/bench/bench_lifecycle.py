"""Benchmark: 100 ModuleInstallations at once, side by side with Helm at 1, 4, 16 and 64.

On one fresh local stack (its apiserver logging every write, with the writer's user agent): the
operator and the worker run as processes; 100 installations of one module are created through
the API (server-side apply, 16 requests at a time, as a GitOps controller or a script would), and
a watch records when each becomes Ready. The operator runs twice: with the scan gate in the path
(a real image, its verdict a cache hit) and with scanning disabled. In the same run, a Helm chart
that renders the very same objects (ServiceAccount, ConfigMap, Secret, Deployment, Service,
NetworkPolicy) is installed 100 times with ``helm install --wait`` at concurrency 1, 4, 16 and 64
against the same apiserver. Per install: the latency from its creation (the operator) or its
command (Helm) to Ready; per run: the throughput, and the writes the apiserver served, counted
by writer from the audit log (the operator's own apart from the controllers' and kwok's). Three
rounds, min/median/max. Results go to docs/benchmarks.md. ``--count`` and ``--rounds`` make a
quick trial.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from measure import AuditLog, PeakRss, by_writer, per_install, percentile, spread  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.api.installation import INSTALLATION, ModuleInstallationSpec  # noqa: E402
from adx_modules.api.module import ModuleSpec  # noqa: E402
from adx_modules.clients.kube import APPLY_PATCH  # noqa: E402
from adx_modules.clients.kube_paths import custom_path  # noqa: E402
from adx_modules.core.refs import InstallationRef  # noqa: E402
from adx_modules.devstack.controlplane import Endpoint  # noqa: E402
from adx_modules.devstack.images import push_image  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.devstack.toolchain import cache_dir  # noqa: E402
from adx_modules.sandboxes.container import manifests as container  # noqa: E402
from support.kube import Kubectl  # noqa: E402
from support.objects import condition, installation_doc, module_doc  # noqa: E402
from support.operator import ServiceProcess  # noqa: E402

MODULE_ID = "bench-module"
CREATE_CONCURRENCY = 16
HELM_CONCURRENCY = (1, 4, 16, 64)
DEADLINE = 900.0
SETTLE = 5.0  # after the last Ready, the writes still owed to the run (status, Events)
AGENT = {"User-Agent": "adx-bench"}


class ReadyWatch:
    """Watches a namespace's ModuleInstallations; notes when each is first seen Ready."""

    def __init__(self, endpoint: Endpoint, namespace: str) -> None:
        self.path = custom_path(INSTALLATION, namespace)
        self.endpoint = endpoint
        self.ready: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        version = ""
        with self.endpoint.http(timeout=30) as client:
            while not self._stop.is_set():
                params = {"watch": "1", "timeoutSeconds": "5", "resourceVersion": version}
                with client.stream("GET", self.path, params=params, headers=AGENT) as answer:
                    for line in answer.iter_lines():
                        event = json.loads(line)
                        if event["type"] == "ERROR":  # expired: start over from now
                            version = ""
                            break
                        item = event["object"]
                        version = item["metadata"]["resourceVersion"]
                        if condition(item, "Ready").get("status") == "True":
                            self.ready.setdefault(item["metadata"]["name"], time.monotonic())

    def __enter__(self) -> ReadyWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def audit_of(stack: DevStack) -> AuditLog:
    """The stack's audit log (it was started with ``audit=True``)."""
    assert stack.control_plane is not None
    assert stack.control_plane.audit_log is not None
    return AuditLog(stack.control_plane.audit_log)


def create_all(endpoint: Endpoint, documents: list[dict[str, Any]]) -> dict[str, float]:
    """Server-side apply every document, CREATE_CONCURRENCY at a time; when each was created."""
    created: dict[str, float] = {}
    with endpoint.http(timeout=60) as client:

        def apply(document: dict[str, Any]) -> None:
            metadata = document["metadata"]
            answer = client.patch(
                custom_path(INSTALLATION, metadata["namespace"], metadata["name"]),
                params={"fieldManager": "adx-bench"},
                content=json.dumps(document),
                headers={**AGENT, "Content-Type": APPLY_PATCH},
            )
            answer.raise_for_status()
            created[metadata["name"]] = time.monotonic()

        with concurrent.futures.ThreadPoolExecutor(CREATE_CONCURRENCY) as pool:
            list(pool.map(apply, documents))
    return created


def operator_run(
    stack: DevStack, workdir: Path, count: int, *, scanning: bool, round_: int
) -> dict[str, Any]:
    """``count`` installations of one Module; with ``scanning``, the Module's image is a real one
    in the local registry, scanned before (its verdict cached by digest), so the Module costs a
    cache hit and every install passes the gate and runs the pinned digest."""
    assert stack.control_plane is not None
    endpoint, audit = stack.control_plane.admin, audit_of(stack)
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
    documents = [installation_doc(f"inst-{i:03d}", module_id) for i in range(count)]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    assert worker._popen is not None
    assert operator._popen is not None
    ours = {"operator": operator._popen.pid, "worker": worker._popen.pid}
    with PeakRss(ours) as rss, ReadyWatch(endpoint, namespace) as watch:
        mark = audit.mark()
        started = time.monotonic()
        created = create_all(endpoint, documents)
        applied = time.monotonic() - started
        while len(watch.ready) < count and time.monotonic() - started < DEADLINE:
            time.sleep(0.1)
        total = max(watch.ready.values(), default=started) - started
        time.sleep(SETTLE)
        writes = per_install(audit.writes_since(mark))
    latencies = [watch.ready[name] - created[name] for name in watch.ready]
    kubectl("delete", "namespace", namespace, "--timeout=300s")
    kubectl("delete", "modules", "--all", "--timeout=120s")
    operator.stop()
    worker.stop()
    return {
        "module_ready": module_ready,
        "ready": len(watch.ready),
        "apply": applied,
        "total": total,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "rate": len(watch.ready) / total * 60,
        "writes": writes,
        "rss_operator": rss.peaks["operator"] / 2**20,
        "rss_worker": rss.peaks["worker"] / 2**20,
    }


# the module's own objects, as the operator applies them (patch = server-side apply)
OBJECT_RESOURCES = {
    "serviceaccounts",
    "configmaps",
    "secrets",
    "deployments",
    "services",
    "networkpolicies",
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
    stack: DevStack, chart: Path, count: int, parallel: int, round_: int
) -> dict[str, Any]:
    """``count`` releases of the chart, ``parallel`` ``helm install --wait`` at a time."""
    audit = audit_of(stack)
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

    mark = audit.mark()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        latencies = list(pool.map(install, range(count)))
    total = time.monotonic() - started
    time.sleep(SETTLE)
    writes = per_install(audit.writes_since(mark))
    Kubectl(stack.kubeconfig)("delete", "namespace", namespace, "--timeout=300s")
    return {
        "ready": len(latencies),
        "total": total,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "rate": count / total * 60,
        "writes": writes,
    }


def median_per_install(runs: list[dict[str, Any]], count: int, who: str) -> float:
    """The median over runs of ``who``'s writes, per install."""
    return statistics.median(by_writer(r["writes"])[who] / count for r in runs)


def is_object(what: str) -> bool:
    """A write of one of the module's own objects (``patch deployments``)."""
    verb, resource = what.split()
    return verb in ("create", "patch") and resource in OBJECT_RESOURCES


def breakdown(
    runs: list[dict[str, Any]], count: int, who: str, *, objects: bool | None = None
) -> str:
    """``who``'s writes per install, by verb and resource (the median run's counts); only the
    module's objects (``objects`` True) or only the rest (False)."""
    kinds: set[str] = {what for r in runs for (w, what) in r["writes"] if w == who}
    parts = []
    for what in sorted(k for k in kinds if objects is None or is_object(k) == objects):
        each = statistics.median(r["writes"][(who, what)] / count for r in runs)
        if each >= 0.05:
            parts.append(f"{what} {each:.1f}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="installs per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, rounds = args.count, args.rounds
    names = ["gated", "ungated", *(f"helm {n}" for n in HELM_CONCURRENCY)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    workdir = Path(tempfile.mkdtemp(prefix="adx-bench-"))
    with DevStack(workdir / "stack", audit=True) as stack:
        chart = equivalent_chart(workdir / "chart")
        for round_ in range(rounds):
            # the operator's two runs alternate which goes first: neither gets the warm stack
            order = (True, False) if round_ % 2 else (False, True)
            for scanning in order:
                found = operator_run(stack, workdir, count, scanning=scanning, round_=round_)
                results["gated" if scanning else "ungated"].append(found)
                print(f"round {round_}, scanning {scanning}:", found, flush=True)
            for parallel in HELM_CONCURRENCY:
                found = helm_run(stack, chart, count, parallel, round_)
                results[f"helm {parallel}"].append(found)
                print(f"round {round_}, helm {parallel}:", found, flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        "writes by writer, all runs:",
        {k: dict(by_writer(r["writes"])) for k, v in results.items() for r in v[:1]},
    )

    def row(name: str, runs: list[dict[str, Any]], own: str) -> str:
        ready = min(r["ready"] for r in runs)
        return (
            f"| {name} | {ready}/{count} | {spread([r['total'] for r in runs], ' s', 1)} | "
            f"{spread([r['rate'] for r in runs])} | {spread([r['p50'] for r in runs], ' s', 1)} | "
            f"{spread([r['p95'] for r in runs], ' s', 1)} | "
            f"{median_per_install(runs, count, own):.1f} | "
            f"{sum(median_per_install(runs, count, w) for w in ('controllers', 'kwok')):.1f} |"
        )

    def rate(name: str) -> float:
        return float(statistics.median(r["rate"] for r in results[name]))

    def p50(name: str) -> float:
        return float(statistics.median(r["p50"] for r in results[name]))

    gated, ungated = results["gated"], results["ungated"]
    operator_writes = gated + ungated
    best_helm = max((f"helm {n}" for n in HELM_CONCURRENCY), key=rate)
    objects = sum(
        statistics.median(r["writes"][("operator", what)] / count for r in operator_writes)
        for what in {w for r in operator_writes for (who, w) in r["writes"] if who == "operator"}
        if is_object(what)
    )
    own = median_per_install(operator_writes, count, "operator")
    body = "\n".join(
        [
            f"## Lifecycle: {count} installations at once, and Helm side by side",
            "",
            f"{machine()}; one fresh local stack for every run, {rounds} rounds (each: the "
            "operator with the scan gate in the path and with scanning disabled, in alternating "
            "order, then `helm install --wait` at concurrency "
            f"{', '.join(map(str, HELM_CONCURRENCY))}); every install waits until its "
            "Deployment is ready (the operator: `Ready=True`; Helm: `--wait`). The operator's "
            f"{count} ModuleInstallations are created through the API by server-side apply, "
            f"{CREATE_CONCURRENCY} requests at a time (that took "
            f"{spread([r['apply'] for r in operator_writes], ' s', 2)}), and a watch notes when "
            "each is Ready: its latency is from its creation to that moment; Helm's is one "
            "`helm install --wait` command's. Writes are counted from the apiserver's audit "
            "log by user agent: the installer's own (the operator's and its worker's, Kopf's "
            "included; Helm's), and the controllers' and kwok's (ReplicaSets, Pods, their "
            "status) apart; leader-election Lease renewals, which tick whether or not anything "
            "is installed, are left out. Targets: at least 100 installs/min, not slower than "
            "Helm. Min / median / max of the runs.",
            "",
            "| run | ready (worst) | all ready after | installs/min | p50 latency | "
            "p95 latency | own writes per install | controllers' and kwok's |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            row("ADX operator, scan gate in the path", gated, "operator"),
            row("ADX operator, scanning disabled", ungated, "operator"),
            *(
                row(f"`helm install --wait`, {n} at a time", results[f"helm {n}"], "helm")
                for n in HELM_CONCURRENCY
            ),
            "",
            "Ratio of the medians (installs per minute), the operator with the gate: "
            + ", ".join(
                f"{rate('gated') / rate(f'helm {n}'):.2f}x Helm at {n}" for n in HELM_CONCURRENCY
            )
            + f"; Helm's best here is {best_helm.split()[1]} at a time. Median per-install "
            f"latency, the operator with the gate: {p50('gated'):.1f} s, Helm at "
            f"{best_helm.split()[1]}: {p50(best_helm):.1f} s (Helm at 1: "
            f"{p50('helm 1'):.1f} s, but one install at a time). With the gate, the installs "
            f"per minute are {rate('gated') / rate('ungated'):.2f}x those without it (the "
            "Module's scan is a cache hit: the same image was scanned for another Module "
            "first; that Module was Available "
            f"{spread([r['module_ready'] for r in gated], ' s', 1)} after it was applied, "
            f"{spread([r['module_ready'] for r in ungated], ' s', 1)} "
            "without scanning).",
            "",
            f"The operator's own writes, {own:.1f} per install (median of its runs): the "
            f"module's {objects:.1f} objects (server-side apply, what Helm writes too: "
            f"{breakdown(operator_writes, count, 'operator', objects=True)}) and "
            f"{own - objects:.1f} of its own bookkeeping (goal: at most 5): "
            f"{breakdown(operator_writes, count, 'operator', objects=False)}. Helm's own, at "
            f"{best_helm.split()[1]}: {breakdown(results[best_helm], count, 'helm')}. Peak RSS "
            f"(max): operator {max(r['rss_operator'] for r in operator_writes):.0f} MiB, "
            f"worker {max(r['rss_worker'] for r in operator_writes):.0f} MiB.",
        ]
    )
    write_section("lifecycle", body)
    print(body)


if __name__ == "__main__":
    main()
