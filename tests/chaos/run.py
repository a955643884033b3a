"""``make chaos``: installs, updates, uninstalls and purchases while every part is killed.

On a fresh local stack, two operator replicas (leader election), two workers, the WASM host, the
module runner and the HTTP API run as processes. Across 10 tenants the load applies 500
installations (container, WASM and process isolation, scanned artifacts), updates 100, uninstalls
100 and buys a paid module once per tenant (each purchase requested twice, as a retrying client
would), while the monkey (``monkey.py``) kills the acting operator every 30 s, a worker every
45 s, and less often the WASM host, the runner, Temporal, PostgreSQL and the kube-apiserver. Then
the chaos stops; within 10 minutes every installation must be where the load left it, and the
invariants (``checks.py``) must hold. The run's figures go to docs/reliability.md; the exit
status is 0 only when every invariant held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "bench"), str(Path(__file__).parent)]

import checks  # noqa: E402
from dashboard import Prometheus, render, wait_for_scrape  # noqa: E402
from monkey import Monkey, Target, service_target  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.authoring.package import build  # noqa: E402
from adx_modules.authoring.publish import publish  # noqa: E402
from adx_modules.clients import temporal  # noqa: E402
from adx_modules.core.settings import load_settings  # noqa: E402
from adx_modules.devstack.images import push_image  # noqa: E402
from adx_modules.devstack.stack import DevStack, runner_environment, wasm_host_environment  # noqa: E402
from adx_modules.devstack.toolchain import cache_dir  # noqa: E402
from adx_modules.marketplace.purchases import PaymentMethod, Purchases  # noqa: E402
from adx_modules.service.cli import author_main  # noqa: E402
from support import guests  # noqa: E402
from support.objects import API_VERSION, installation_doc, listing_doc, module_doc  # noqa: E402
from support.operator import ServiceProcess  # noqa: E402

REPORT = ROOT / "docs" / "reliability.md"
PICTURE = ROOT / "docs" / "images" / "dashboard.png"
TENANTS = [f"chaos-t{index}" for index in range(10)]
CONTAINER_MODULES = [f"chaos-c{index}" for index in range(5)]
PER_TENANT = {"container": 43, "wasm": 5, "process": 2}  # 50 per tenant, 500 in all
UPDATES, UNINSTALLS = 100, 100
CHAOS_SECONDS, SETTLE_SECONDS = 300, 600
PAID = "chaos-paid"
# the kills: (target, every, first) in seconds since the chaos began
SCHEDULE = {
    "operator": (30, 10),
    "worker": (45, 20),
    "wasm-host": (100, 55),
    "runner": (100, 80),
    "temporal": (120, 65),
    "postgres": (150, 95),
    "kube-apiserver": (180, 125),
}


AWAY = ("connection refused", "Unable to connect", "unable to handle the request", "EOF", "timeout")


class Cluster:
    """kubectl as the stack's admin, retrying while the apiserver is away (it is killed too)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = str(kubeconfig)

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        for _ in range(60):
            result = subprocess.run(
                ["kubectl", "--kubeconfig", self.kubeconfig, *args],
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                return result.stdout
            if not any(sign in result.stderr for sign in AWAY):
                break  # a real error, not the apiserver being away
            time.sleep(2)
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")

    def apply(self, docs: list[dict[str, Any]]) -> None:
        text = yaml.safe_dump_all(docs)
        self("apply", "--server-side", "--field-manager=chaos", "-f", "-", stdin=text)


def in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}


def publish_modules(stack: DevStack, cluster: Cluster, work: Path) -> dict[str, str]:
    """Every module the load installs, its artifact pushed (scanned for real): isolation ->
    module id."""
    registry = stack.environment()["ADX_REGISTRY_ADDRESS"]
    docs = []
    for module_id in [*CONTAINER_MODULES, PAID]:
        for version in ("1.0.0", "1.1.0"):
            pinned = push_image(
                registry, f"chaos/{module_id}", version, {"module": version.encode()}, insecure=True
            )
            docs.append(module_doc(module_id, version, artifact={"image": {"reference": pinned}}))
    docs.append(
        listing_doc(
            PAID, "Costs money.", pricing={"model": "one-time", "amount": "49", "currency": "USD"}
        )
    )
    cluster.apply(docs)
    wasm = work / "echo"
    wasm.mkdir()
    manifest = {
        "moduleId": "chaos-echo",
        "version": "1.0.0",
        "displayName": "Echo",
        "author": "chaos",
        "runtime": "wasm",
        "permissions": [],
        "extensionPoints": {"workflows": ["echo"]},
        "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}},
    }
    (wasm / "manifest.json").write_text(json.dumps(manifest))
    (wasm / "module.wasm").write_bytes(guests.binary(guests.ECHO))
    published = publish(
        wasm / "module.wasm", registry, insecure=True, manifest=wasm / "manifest.json"
    )
    cluster.apply([{**published.module, "apiVersion": API_VERSION}])
    python = work / "chaos-py"
    assert author_main(["init", "chaos-py", "--dir", str(python)]) == 0
    manifest = json.loads((python / "manifest.json").read_text())
    (python / "manifest.json").write_text(json.dumps({**manifest, "version": "1.0.0"}))
    # one MEDIUM finding (CVE-2024-35195): the scan finds it, the gate lets it pass (score 97)
    (python / "requirements.lock").write_text("requests==2.31.0\n")
    package = build(python / "manifest.json", python / "chaos-py.adx")
    published = publish(package.path, registry, insecure=True)
    cluster.apply([{**published.module, "apiVersion": API_VERSION}])
    cluster("wait", "modules", "--all", "--for=condition=Ready", "--timeout=300s")
    return {"wasm": "chaos-echo", "process": "chaos-py"}


def services(env: dict[str, str], logs: Path) -> dict[str, list[ServiceProcess]]:
    """The service's processes, as the chart runs them (two operators, two workers)."""
    admin = {"wasm-host": "ADX_WASM_ADMIN_URL", "runner": "ADX_RUNNER_ADMIN_URL"}
    logs.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[ServiceProcess]] = {}
    for role, count in (
        ("operator", 2),
        ("worker", 2),
        ("wasm-host", 1),
        ("runner", 1),
        ("api", 1),
    ):
        ready = f"{env[admin[role]]}/readyz" if role in admin else None
        if role == "api":
            ready = f"http://127.0.0.1:{env['ADX_SERVER_PORT']}/health"
        extra = {"ADX_RUNNER_WORK_DIR": str(logs / "runner-work")} if role == "runner" else {}
        found[role] = [
            ServiceProcess(role, {**env, **extra}, logs / f"{role}-{index}.log", ready_url=ready)
            for index in range(count)
        ]
    return found


def leader(cluster: Cluster, operators: list[ServiceProcess]) -> ServiceProcess:
    """The operator replica holding the Lease (the one that acts), else the first."""
    try:
        lease = json.loads(
            cluster("get", "lease", "adx-module-operator", "-n", "default", "-o", "json")
        )
        holder = lease["spec"].get("holderIdentity") or ""
    except (RuntimeError, json.JSONDecodeError):
        holder = ""
    for process in operators:
        if process.alive and holder.endswith(str(process.pid)):
            return process
    return operators[0]


def targets(
    stack: DevStack, cluster: Cluster, processes: dict[str, list[ServiceProcess]]
) -> list[Target]:
    assert stack.temporal
    assert stack.postgres
    assert stack.control_plane
    temporal_server, postgres = stack.temporal, stack.postgres
    parts = {p.name: p for p in stack.control_plane.processes}
    apiserver, controllers = parts["kube-apiserver"], parts["kube-controller-manager"]
    turn = {"worker": 0}

    def next_worker() -> ServiceProcess:
        turn["worker"] += 1
        return processes["worker"][turn["worker"] % 2]

    admin = stack.control_plane.admin

    def apiserver_ready() -> bool:
        with admin.http(timeout=5) as client:
            return client.get("/readyz").status_code == 200

    def restart_apiserver() -> None:
        apiserver.kill()  # a start that failed before may have left one behind
        apiserver.start()
        apiserver.wait_until(apiserver_ready, 120, "ready")
        # kube-controller-manager (1.35) stops syncing ReplicaSets after its only apiserver
        # restarts ("read version ... is not as new as written version") and does not recover
        # on its own: a cluster has several apiservers; here it is restarted with the one
        controllers.kill()
        controllers.start()

    def kill_temporal() -> None:
        assert temporal_server.process
        temporal_server.process.kill()

    def restart_temporal() -> None:
        assert temporal_server.process
        temporal_server.process.kill()
        temporal_server.process.start()
        temporal_server.wait_ready(120)

    def kill_postgres() -> None:
        assert postgres.process
        postgres.process.kill()

    def restart_postgres() -> None:
        assert postgres.process
        postgres.process.kill()
        postgres.process.start()
        postgres.wait_ready(120)

    return [
        service_target(
            "operator", *SCHEDULE["operator"], lambda: leader(cluster, processes["operator"])
        ),
        service_target("worker", *SCHEDULE["worker"], next_worker),
        service_target("wasm-host", *SCHEDULE["wasm-host"], lambda: processes["wasm-host"][0]),
        service_target("runner", *SCHEDULE["runner"], lambda: processes["runner"][0]),
        Target("temporal", *SCHEDULE["temporal"], kill_temporal, restart_temporal),
        Target("postgres", *SCHEDULE["postgres"], kill_postgres, restart_postgres),
        Target(
            "kube-apiserver",
            *SCHEDULE["kube-apiserver"],
            apiserver.kill,
            restart_apiserver,
        ),
    ]


def installations_of(modules: dict[str, str]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(tenant, name) -> (module, version, isolation) of the 500 installations."""
    planned: dict[tuple[str, str], tuple[str, str, str]] = {}
    for tenant in TENANTS:
        for isolation, count in PER_TENANT.items():
            for index in range(count):
                module = (
                    CONTAINER_MODULES[index % len(CONTAINER_MODULES)]
                    if isolation == "container"
                    else modules[isolation]
                )
                planned[tenant, f"{isolation[0]}{index}"] = (module, "1.0.0", isolation)
    return planned


def installation(
    name: str, module: str, version: str, isolation: str, tenant: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {"version": version, "isolation": isolation}
    if isolation == "process":
        spec["approvedPermissions"] = ["storage:read:chaos-py"]
    return in_namespace(installation_doc(name, module, **spec), tenant)


async def buy(env: dict[str, str]) -> dict[str, str]:
    """One purchase of the paid module per tenant, each asked twice with the same key."""
    settings = load_settings(environ=env)
    client = await temporal.connect(settings.temporal.address, settings.temporal.namespace)
    import stripe  # noqa: PLC0415

    from adx_modules.clients.kube import KubeClient  # noqa: PLC0415
    from adx_modules.clients.postgres import Store  # noqa: PLC0415

    stripe_client = stripe.StripeClient(
        env["ADX_MARKETPLACE_STRIPE_API_KEY"],
        base_addresses={"api": env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
    )
    bought: dict[str, str] = {}
    async with (
        await KubeClient.connect(env["KUBECONFIG"]) as kube,
        await Store.connect(settings.database.url, schema=settings.database.schema_name) as store,
    ):
        purchases = Purchases.from_settings(client, store, kube, settings)
        for tenant in TENANTS:
            token = stripe_client.v1.tokens.create(
                params={
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": "12",
                        "exp_year": "2030",
                        "cvc": "123",
                    }
                }
            )
            method = PaymentMethod.model_validate({"CreditCard": {"token": str(token.id)}})
            for _ in range(2):  # a client that retries: the same purchase
                for attempt in range(30):
                    try:
                        started = await purchases.purchase(
                            tenant=tenant,
                            user="chaos",
                            listing=PAID,
                            payment_method=method,
                            idempotency_key=f"chaos-{tenant}",
                        )
                        break
                    except Exception:  # PostgreSQL or Temporal away: a client retries
                        if attempt == 29:
                            raise
                        await asyncio.sleep(2)
            bought[started.id] = tenant
    return bought


def settle(cluster: Cluster, expected: checks.Expected, deadline: float) -> float | None:
    """Seconds until every installation is where the load left it (None: not by the deadline)."""
    began = time.monotonic()
    while time.monotonic() < deadline:
        try:
            found = checks.installations(cluster.kubeconfig)
        except subprocess.CalledProcessError:
            time.sleep(5)
            continue
        lost, stuck = checks.nothing_lost_or_stuck(expected, found)
        if not lost.violations and not stuck.violations:
            return time.monotonic() - began
        time.sleep(5)
    return None


def wasm_endpoints(found: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """The endpoint of every WASM installation that has one."""
    urls = []
    for item in found.values():
        status = item.get("status") or {}
        if status.get("isolation") == "wasm" and status.get("endpoints"):
            urls.append(status["endpoints"][0]["url"])
    return urls


class ModuleCalls:
    """Calls every WASM installation's endpoint, round after round, while the chaos runs (the
    modules are used while their host is killed, and the dashboard's module panels have data
    through the run): how many calls were answered, and how many were not (the host away)."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.answered = self.unanswered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        urls: list[str] = []
        refreshed = 0.0
        while not self._stop.wait(2):
            if time.monotonic() - refreshed > 20:  # new installations, moved endpoints
                with contextlib.suppress(subprocess.CalledProcessError, ValueError):
                    urls = wasm_endpoints(checks.installations(self.kubeconfig))
                refreshed = time.monotonic()
            for url in urls:
                self.call(url)

    def call(self, url: str) -> None:
        try:
            reply = httpx.post(f"{url}/echo", json={"n": 1}, timeout=10)
        except httpx.HTTPError:
            self.unanswered += 1
            return
        if reply.status_code == 200:
            self.answered += 1
        else:
            self.unanswered += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def say(what: str) -> None:
    print(f"chaos: {time.strftime('%H:%M:%S')} {what}", flush=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="adx-chaos-"))
    with DevStack(work / "stack", nodes=3) as stack:  # 250 pods each: room for every install
        say(f"stack up in {work}")
        cluster = Cluster(stack.kubeconfig)
        env = {
            **stack.environment(),
            "ADX_TEMPORAL_TASK_QUEUE": "chaos",
            "ADX_DATABASE_SCHEMA_NAME": "chaos",
            **wasm_host_environment(None, None),
            **runner_environment(None, None),
            "ADX_SERVER_LOG_FORMAT": "json",
            # 500 installations: past the default limit of 100 sandboxes per kind
            "ADX_SANDBOX_MAX_SANDBOXES": "1000",
        }
        for tenant in TENANTS:
            cluster("create", "namespace", tenant)
        processes = services(env, work / "logs")
        for group in processes.values():
            for process in group:
                process.start(timeout=120)
        prometheus = Prometheus(work / "prometheus", cache_dir() / "bin", processes)
        prometheus.start()
        began = time.time()
        say("services up, Prometheus scraping them")
        modules = publish_modules(stack, cluster, work)
        say("modules published and scanned; the chaos begins")
        planned = installations_of(modules)
        monkey = Monkey(
            targets(stack, cluster, processes), [p for g in processes.values() for p in g]
        )
        expected = checks.Expected()
        calls = ModuleCalls(cluster.kubeconfig)
        calls.start()
        monkey.start()
        # the load, while the monkey kills: installs in batches, purchases, updates, uninstalls
        keys = list(planned)
        for batch in range(10):
            docs = [installation(k[1], *planned[k], k[0]) for k in keys[batch::10]]
            cluster.apply(docs)
            say(f"applied installations, batch {batch + 1}/10")
            time.sleep(8)
        cluster.apply(
            [in_namespace(installation_doc("bought", PAID, version="1.0.0"), t) for t in TENANTS]
        )
        expected.purchases = asyncio.run(buy(env))
        say(f"{len(expected.purchases)} purchases made")
        containers = [k for k in keys if planned[k][2] == "container"]
        updated, deleted = (
            containers[:UPDATES],
            [
                *containers[UPDATES : UPDATES + 90],
                *[k for k in keys if planned[k][2] == "wasm"][:10],
            ],
        )
        cluster.apply(
            [installation(k[1], planned[k][0], "1.1.0", "container", k[0]) for k in updated]
        )
        uids = {
            k: json.loads(cluster("get", "mi", k[1], "-n", k[0], "-o", "json"))["metadata"]["uid"]
            for k in deleted
        }
        for tenant in TENANTS:
            names = [k[1] for k in deleted if k[0] == tenant]
            if names:
                cluster("delete", "mi", *names, "-n", tenant, "--wait=false")
        load_done = monkey.elapsed()
        say(f"load submitted at {load_done:.0f} s")
        while monkey.elapsed() < CHAOS_SECONDS:
            time.sleep(1)
        monkey.calm()
        say(f"chaos over: {sum(len(t.kills) for t in monkey.targets)} kills; waiting to settle")
        for key, (_, version, isolation) in planned.items():
            if key not in deleted:
                expected.live[key] = ("1.1.0" if key in updated else version, isolation)
        expected.live |= {(t, "bought"): ("1.0.0", "container") for t in TENANTS}
        expected.deleted = set(deleted)
        settled_in = settle(cluster, expected, time.monotonic() + SETTLE_SECONDS)
        calls.stop()
        say(f"settled after {settled_in} s; checking the invariants")
        found = checks.installations(cluster.kubeconfig)
        after = ModuleCalls(cluster.kubeconfig)
        for url in wasm_endpoints(found):
            after.call(url)
        say(
            f"module calls: {calls.answered} answered, {calls.unanswered} not, during the run; "
            f"after it, {after.answered} of {after.answered + after.unanswered}"
        )
        findings = checks.nothing_lost_or_stuck(expected, found)
        findings += checks.objects_once(cluster.kubeconfig, expected)
        findings.append(
            checks.hosted_once(
                env["ADX_WASM_ADMIN_URL"], env["ADX_WASM_ADMIN_TOKEN"], expected, "wasm"
            )
        )
        findings.append(
            checks.hosted_once(
                env["ADX_RUNNER_ADMIN_URL"], env["ADX_RUNNER_ADMIN_TOKEN"], expected, "process"
            )
        )
        findings.append(asyncio.run(checks.records_agree(env, expected, found)))

        async def workflows() -> checks.Finding:
            client = await temporal.connect(
                env["ADX_TEMPORAL_ADDRESS"], env["ADX_TEMPORAL_NAMESPACE"]
            )
            keyed = {f"{k[0]}/{k[1]}": uid for k, uid in uids.items()}
            return await checks.one_workflow_per_generation(client, found, keyed)

        findings.append(asyncio.run(workflows()))
        findings.append(asyncio.run(checks.purchases_once(env, expected)))
        wait_for_scrape()
        drawn = render(prometheus, began, time.time(), PICTURE)
        prometheus.stop()
        monkey.stop()
        for group in processes.values():
            for process in group:
                process.stop()
    write_report(monkey, findings, settled_in, load_done, len(planned), drawn, (calls, after))
    held = settled_in is not None and all(not f.violations for f in findings)
    print(REPORT.read_text().split("<!-- bench:chaos -->")[1].split("<!-- /bench:chaos -->")[0])
    return 0 if held else 1


def write_report(  # noqa: PLR0917
    monkey: Monkey,
    findings: list[checks.Finding],
    settled_in: float | None,
    load_done: float,
    installs: int,
    drawn: int,
    calls: tuple[ModuleCalls, ModuleCalls],
) -> None:
    during, after = calls
    kills = "\n".join(
        f"| {t.name} | every {t.every:.0f} s | {len(t.kills)} | "
        f"{statistics.median(t.down) if t.down else 0:.1f} s |"
        for t in monkey.targets
    )
    exits = ", ".join(f"{role} {n}" for role, n in sorted(monkey.self_exits.items())) or "none"
    rows = "\n".join(
        f"| {f.invariant} | {f.checked} | "
        f"{'held' if not f.violations else 'BROKEN: ' + '; '.join(f.violations[:5])} |"
        for f in findings
    )
    mix = ", ".join(f"{n * len(TENANTS)} {kind}" for kind, n in PER_TENANT.items())
    settled = f"{settled_in:.0f} s" if settled_in is not None else f"NOT within {SETTLE_SECONDS} s"
    body = f"""## The chaos run (`make chaos`)

{machine()}; one fresh local stack; 2 operator replicas (leader election), 2 workers, the WASM
host, the module runner and the HTTP API as processes. Load across {len(TENANTS)} tenants:
{installs} installations ({mix}; artifacts scanned), {UPDATES} updates,
{UNINSTALLS} uninstalls and {len(TENANTS)} purchases (each requested twice), submitted within the
first {load_done:.0f} s of {CHAOS_SECONDS} s of chaos. After the chaos stopped, every installation
was where the load left it after **{settled}** (limit {SETTLE_SECONDS} s).

| killed (SIGKILL, then started again) | period | kills | median time to serve again |
| --- | --- | --- | --- |
{kills}

Service processes that ended by themselves (and were started again, as a kubelet would):
{exits}. Restart errors while a dependency was down: {len(monkey.errors)}. The WASM
installations were called all along (every one, every 2 s, from the first batch until every
installation settled): {during.answered} calls answered, {during.unanswered} not (the host or the
installation not there yet, or killed); after the run, {after.answered} of
{after.answered + after.unanswered} live WASM installations answered their first call.

| invariant | objects checked | result |
| --- | --- | --- |
{rows}

The Grafana dashboard over this run ({drawn} series; its own queries answered by Prometheus,
which scraped every process every 5 s; drawn by `tests/chaos/dashboard.py`):

![the dashboard during the chaos run](images/dashboard.png)
"""
    write_section("chaos", body, doc=REPORT)


if __name__ == "__main__":
    sys.exit(main())
