"""Benchmark: how long the operator is without a leader when its leader goes.

On a fresh local stack, two operator replicas run as processes (``adx-module-service operator``,
leader election with the product's defaults: lease 15 s, renew deadline 10 s, retry 2 s). The
leader goes, in two ways, three runs each:

1. *kill -9*: nothing is released, so the standby takes over once the Lease's record has stood
   still for the lease duration on its own clock;
2. *SIGTERM* (a rollout, a drain): the leader stops its handlers and releases the Lease, so the
   standby takes it at its next attempt.

A Module is created the moment the leader goes; we time until the Lease names the standby and
until that Module has been handled (its status ``Ready``: the new leader's Kopf started and ran
its handler). After each run a fresh standby starts for the next. No worker runs (a Module with
scanning disabled needs none): what is measured is the operator alone. Results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from report import machine, write_section  # noqa: E402

from adx_modules.api.module import MODULE  # noqa: E402
from adx_modules.clients.errors import NotFoundError  # noqa: E402
from adx_modules.clients.kube import KubeClient  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from support.kube import Kubectl  # noqa: E402
from support.objects import condition, module_doc  # noqa: E402
from support.operator import ServiceProcess  # noqa: E402

RUNS = 3
NAMESPACE = "adx-system"
LEASE = "adx-module-operator"
DEADLINE = 120.0
POLL = 0.05


def identity(process: ServiceProcess) -> str:
    return f"{socket.gethostname()}_{process.pid}"


def standing_by(process: ServiceProcess, leader: ServiceProcess) -> bool:
    """Whether ``process`` answers its probe as the standby of ``leader``."""
    try:
        body = httpx.get(process.health_url, timeout=2).json()
    except httpx.HTTPError:
        return False
    return bool(body.get("role") == "standby" and body.get("leader") == identity(leader))


async def until(
    kube: KubeClient, module: str, old: ServiceProcess, new: ServiceProcess, since: float
) -> dict[str, float]:
    """Seconds from ``since`` until the ``old`` leader's process has exited, until the Lease
    names the ``new`` one, and until ``module`` is Ready; polled every 50 ms."""
    found: dict[str, float] = {}
    assert old._popen is not None
    while time.monotonic() - since < DEADLINE and len(found) < 3:
        if "exited" not in found and old._popen.poll() is not None:
            found["exited"] = time.monotonic() - since
        if "lease" not in found:
            lease = await kube.get_object("Lease", LEASE, NAMESPACE)
            if (lease.get("spec") or {}).get("holderIdentity") == identity(new):
                found["lease"] = time.monotonic() - since
        if "handled" not in found:
            try:
                body = await kube.get_custom(MODULE, module)
            except NotFoundError:
                body = {}
            if condition(body, "Ready").get("status") == "True":
                found["handled"] = time.monotonic() - since
        await asyncio.sleep(POLL)
    if len(found) < 3:
        raise RuntimeError(f"no failover within {DEADLINE:.0f} s: {found}")
    return found


def failover(
    stack: DevStack, leader: ServiceProcess, standby: ServiceProcess, how: str, run: int
) -> dict[str, float]:
    """Make ``leader`` go (``kill`` or ``term``), create a Module at once, time the rest."""
    kubectl = Kubectl(stack.kubeconfig)
    assert leader._popen is not None
    went_at = time.monotonic()
    if how == "kill":
        leader.kill()
    else:
        leader._popen.send_signal(signal.SIGTERM)
    name = f"failover-{how}-{run}"
    kubectl.apply(module_doc(name, "1.0.0"))

    async def measure() -> dict[str, float]:
        async with await KubeClient.connect(str(stack.kubeconfig)) as kube:
            return await until(kube, f"{name}-1-0-0", leader, standby, went_at)

    result = asyncio.run(measure())
    if how == "term" and leader._popen.returncode != 0:
        raise RuntimeError(f"the stopped leader exited with {leader._popen.returncode}")
    print(f"{how} run {run}: {result}", flush=True)
    return result


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="adx-failover-"))
    results: dict[str, list[dict[str, Any]]] = {"kill": [], "term": []}
    with DevStack(workdir / "stack") as stack:
        Kubectl(stack.kubeconfig)("create", "namespace", NAMESPACE)
        env = {
            **stack.environment(),
            "ADX_TEMPORAL_TASK_QUEUE": "failover",
            "ADX_SECURITY_SCANNING_ENABLED": "false",
            "POD_NAMESPACE": NAMESPACE,
        }
        count = 0

        def replica() -> ServiceProcess:
            nonlocal count
            count += 1
            process = ServiceProcess("operator", env, workdir / f"operator-{count}.log")
            process.start()
            return process

        leader = replica()
        kubectl = Kubectl(stack.kubeconfig, NAMESPACE)

        def holder() -> str:
            return kubectl("get", "lease", LEASE, "-o", "jsonpath={.spec.holderIdentity}").stdout

        kubectl.wait_for(lambda: holder() == identity(leader), timeout=30)
        processes = [leader]
        try:
            for how in ("kill", "term"):
                for run in range(RUNS):
                    standby = replica()
                    processes.append(standby)
                    ready = (standby, leader)
                    kubectl.wait_for(lambda ready=ready: standing_by(*ready), timeout=30)
                    results[how].append(failover(stack, leader, standby, how, run))
                    leader = standby
        finally:
            for process in processes:
                process.stop()

    def cell(how: str, key: str) -> str:
        values = [r[key] for r in results[how]]
        return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f} s"

    body = "\n".join(
        [
            "## Operator failover: two replicas, the leader goes",
            "",
            f"{machine()}; one fresh local stack, two operator replicas (leader election on "
            "the defaults: lease 15 s, renew deadline 10 s, retry 2 s), no worker; "
            f"{RUNS} runs each, min / median / max. A Module is created the moment the leader "
            "goes; *taken over* is when the Lease names the standby (polled every 50 ms), "
            "*handled* when that Module is `Ready` (the new leader's Kopf started and ran its "
            "handler). The bound the design promises after a crash: lease duration + two "
            "jittered retry periods (19.8 s) to take over, plus the new leader's start "
            "(docs/reliability.md).",
            "",
            "| the leader | its process gone | taken over | handled |",
            "| --- | --- | --- | --- |",
            f"| killed (`kill -9`: the Lease runs out) | {cell('kill', 'exited')} | "
            f"{cell('kill', 'lease')} | {cell('kill', 'handled')} |",
            f"| stopped (SIGTERM: its handlers stop, the Lease is released) | "
            f"{cell('term', 'exited')} | {cell('term', 'lease')} | {cell('term', 'handled')} |",
        ]
    )
    write_section("failover", body)
    print(body)


if __name__ == "__main__":
    main()
