"""Benchmark: the HTTP API under a bounded loopback load, beside kubectl and the Kubernetes API.

On a fresh local stack, one API process (as ``make run`` starts it; its per-caller rate limit
raised so the load generator is not refused as abuse), a tenant's ServiceAccount token (a Role
that may list and create installations in its namespace, a ClusterRole that reads the
catalog), 200 installations in its namespace and 10,000 listings in the marketplace's read
model. A load generator in this process keeps ``CALLERS`` requests in flight (keep-alive
connections) until ``REQUESTS`` are done, and times each:

- **list**: ``GET /api/v1/tenants/{tenant}/modules`` (200 installations: the apiserver's LIST as
  the caller, reshaped);
- **search**: ``POST /api/v1/marketplace/search`` of a term in 1 % of the listings (PostgreSQL);
- **install**: ``POST /api/v1/modules/install`` (a ModuleInstallation created as the caller).

Beside the list, in the same run, with the same token: ``kubectl get mi -o json`` (one process
per read, ``CALLERS`` at once — the CLI as a script runs it) and the apiserver's own LIST of
the same installations over keep-alive HTTP (the peer at its best: no CLI start, no API in
between). The operator and the worker do not run: the API's cost is measured, not the
installs'. Three runs; min / median / max.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

import httpx  # noqa: E402
import yaml  # noqa: E402
from bench_marketplace import GENERATE  # noqa: E402
from bench_wasm import percentile, spread  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.api.meta import API_VERSION  # noqa: E402
from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.devstack.toolchain import python_tool  # noqa: E402
from support.kube import Kubectl  # noqa: E402
from support.operator import api_of_its_own  # noqa: E402
from support.tenants import Tenant, catalog_reader_role  # noqa: E402

RUNS = 3
CALLERS = 8
REQUESTS = 400
INSTALLS = 200
INSTALLED = 200
LISTINGS = 10_000
TENANT = "bench-tenant"
MODULE = "bench-module"

Call = Callable[[int], Awaitable[int]]


async def load(call: Call, count: int, callers: int) -> tuple[list[float], float]:
    """``count`` calls, ``callers`` at a time: each call's milliseconds, and calls per second.
    Every call must answer its expected status."""
    times: list[float] = []
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            await call(index)
            times.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return times, count / (time.perf_counter() - started)


def expect(answer: httpx.Response, status: int) -> int:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.method} {answer.request.url}: {answer.text}")
    return answer.status_code


def prepare(stack: DevStack) -> tuple[Kubectl, Tenant]:
    kubectl = Kubectl(stack.kubeconfig)
    kubectl("create", "namespace", TENANT)
    kubectl.apply(catalog_reader_role())
    tenant = Tenant(kubectl, TENANT)
    module = {"apiVersion": API_VERSION, "kind": "ModuleInstallation"}
    documents = "\n---\n".join(
        json.dumps(
            {
                **module,
                "metadata": {"name": f"installed-{n}", "namespace": TENANT},
                "spec": {"module": MODULE, "version": "*"},
            }
        )
        for n in range(INSTALLED)
    )
    kubectl("apply", "--server-side", "-f", "-", stdin=documents)
    return kubectl, tenant


async def fill_listings(env: dict[str, str]) -> None:
    async with await Store.connect(env["ADX_DATABASE_URL"]) as store:
        await store.migrate()
        sql = GENERATE.replace("$LISTINGS", str(LISTINGS)).replace("$REVIEWS", "0")
        async with store.pool.acquire() as connection:
            await connection.execute(sql)


async def kubectl_reads(kubeconfig: Path) -> tuple[list[float], float]:
    argv = [
        str(python_tool("kubectl")),
        f"--kubeconfig={kubeconfig}",
        f"--namespace={TENANT}",
        "get",
        "mi",
        "-o",
        "json",
    ]

    async def read(_: int) -> int:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, error = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"kubectl get mi: {error.decode()}")
        return 0

    return await load(read, REQUESTS // 4, CALLERS)


@dataclass(frozen=True)
class Target:
    api: str  # the HTTP API's base URL
    server: str  # the apiserver's
    ca: str  # its CA file
    token: str  # the tenant's
    kubeconfig: Path  # the tenant's, for kubectl


async def one_run(target: Target, run: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {target.token}"}
    search_order = {"query": "ledgerly"}
    found: dict[str, Any] = {}
    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    async with httpx.AsyncClient(
        base_url=target.api, headers=headers, limits=limits, timeout=60
    ) as http:

        async def listing(_: int) -> int:
            return expect(await http.get(f"/api/v1/tenants/{TENANT}/modules"), 200)

        async def search(_: int) -> int:
            return expect(await http.post("/api/v1/marketplace/search", json=search_order), 200)

        async def install(index: int) -> int:
            order = {
                "tenant_id": TENANT,
                "module_id": MODULE,
                "name": f"r{run}-{index}",
            }
            return expect(await http.post("/api/v1/modules/install", json=order), 202)

        await load(listing, CALLERS, CALLERS)  # warm: connections, token and access reviews
        found["list"] = await load(listing, REQUESTS, CALLERS)
        found["search"] = await load(search, REQUESTS, CALLERS)
        found["install"] = await load(install, INSTALLS, CALLERS)
    async with httpx.AsyncClient(
        base_url=target.server, headers=headers, limits=limits, timeout=60, verify=target.ca
    ) as kube:
        path = f"/apis/modules.adxcore.com/v1alpha1/namespaces/{TENANT}/moduleinstallations"

        async def raw(_: int) -> int:
            return expect(await kube.get(path), 200)

        await load(raw, CALLERS, CALLERS)
        found["raw"] = await load(raw, REQUESTS, CALLERS)
    found["kubectl"] = await kubectl_reads(target.kubeconfig)
    return found


def cluster_of(kubeconfig: Path) -> tuple[str, str]:
    """The apiserver's URL and CA file a token-only kubeconfig names."""
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    return cluster["server"], cluster["certificate-authority"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-api-"))
    results: dict[str, dict[str, list[float]]] = {}
    with DevStack(work / "stack") as stack:
        env = stack.environment()
        kubectl, tenant = prepare(stack)
        asyncio.run(fill_listings(env))
        server, ca = cluster_of(tenant.kubeconfig)
        with api_of_its_own(env, work, ADX_SERVER_REQUESTS_PER_SECOND="1000000") as api:
            for run in range(RUNS):
                target = Target(api, server, ca, tenant.token, tenant.kubeconfig)
                found = asyncio.run(one_run(target, run))
                # the next run lists the same installations: this run's installs go
                names = [f"r{run}-{index}" for index in range(INSTALLS)]
                kubectl("delete", "mi", "-n", TENANT, "--wait=false", *names)
                for name, (times, rate) in found.items():
                    figures = results.setdefault(name, {})
                    figures.setdefault("p50", []).append(percentile(times, 0.5))
                    figures.setdefault("p99", []).append(percentile(times, 0.99))
                    figures.setdefault("rate", []).append(rate)
    labels = {
        "list": f"API: a tenant's installations ({INSTALLED}), `GET /tenants/{{t}}/modules`",
        "kubectl": f"kubectl get mi -o json, the same {INSTALLED} (one process per read)",
        "raw": f"the apiserver's LIST of the same {INSTALLED} over keep-alive HTTP (its best)",
        "search": f"API: search, a term in 1 % of {LISTINGS:,} listings",
        "install": "API: install (`POST /modules/install`, a ModuleInstallation as the caller)",
    }
    counts = {"kubectl": REQUESTS // 4, "install": INSTALLS}
    rows = []
    for name in ("list", "kubectl", "raw", "search", "install"):
        figures = results[name]
        rows.append(
            f"| {labels[name]} | {counts.get(name, REQUESTS)} | {spread(figures['p50'], 'ms')} | "
            f"{spread(figures['p99'], 'ms')} | {spread(figures['rate'], '/s', 0)} |"
        )
    ratio_kubectl = statistics.median(results["list"]["rate"]) / statistics.median(
        results["kubectl"]["rate"]
    )
    ratio_raw = statistics.median(results["raw"]["rate"]) / statistics.median(
        results["list"]["rate"]
    )
    body = "\n".join(
        [
            "## The HTTP API",
            "",
            f"{machine()}; one fresh local stack, the API process alone (no operator, no "
            f"worker); a tenant's ServiceAccount token (TokenReview, SubjectAccessReview, "
            f"impersonation on every request, reviews remembered 10 s); {CALLERS} requests in "
            f"flight over keep-alive connections from one load generator on loopback, its rate "
            f"limit raised. {RUNS} runs, min / median / max.",
            "",
            "| what | requests per run | p50 | p99 | throughput |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Listing through the API: {ratio_kubectl:.1f}x the reads per second of `kubectl "
            f"get` run as a script runs it (median). The apiserver's own LIST of the same "
            f"objects: {ratio_raw:.2f}x the API's throughput — it sends every object whole "
            "(managed fields included) to the load generator, which shares the 2 cores with "
            "everything else, where the API sends a summary of each; its p50 and p99 beside "
            "the API's are what impersonation, the access review and the reshaping cost.",
        ]
    )
    write_section("api", body)
    print(body)


if __name__ == "__main__":
    main()
