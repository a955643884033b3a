"""Benchmark: the module runner (issue 12's figures), on a fresh local stack.

- *cold start of a Python module process*: the worker's ``process`` backend steps for a new
  installation of an SDK module whose package is already stored (provision: the row and the
  runner's start of a confined ``python -I -B -m adx_module_sdk.process``, which imports the
  SDK, confines itself and loads the module; then wait healthy), 10 installations per run; beside
  it the floor: ``python -I -c "import asyncio, json"`` started the same way;
- *API route latency*: one caller, 1,000 GET ``/greet`` one after another through the runner's
  HTTP port to the module's process and back (aiohttp client in this process);
- *events per second, end to end*: 2,000 events written to a tenant's outbox in one
  transaction (as modules emit them), until a subscribing module's cursor has passed the last
  one (LISTEN/NOTIFY wakes the dispatcher; each event goes over the socket to the module's
  handler and the cursor moves after it answered: at least once);
- *memory per idle module process*: 20 installed, idle modules; the RSS and the USS (pages no
  other process shares) of their processes, averaged.

No peer runner is installable here to run beside it (a FaaS platform needs a container engine);
the interpreter's own start is the floor the cold start is compared with. Three runs each, min /
median / max. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

import aiohttp  # noqa: E402
import psutil  # noqa: E402
from bench_wasm import percentile, spread  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.sandboxes.runner.backend import RunnerBackend  # noqa: E402
from support.runner import install, package, runner_process, settings_of  # noqa: E402
from support.sdk_guests import COUNTER, probe  # noqa: E402
from support.wasm import NAMESPACE, Files  # noqa: E402

RUNS = 3
STARTS_PER_RUN = 10
CALLS = 1_000
EVENTS = 2_000
IDLE_MODULES = 20
SETTLE_SECONDS = 15


def interpreter_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "import asyncio, json"], check=True)
    return (time.perf_counter() - started) * 1000


async def cold_starts(backend: RunnerBackend, files: Files, run: int) -> list[float]:
    module = package(files, "probe", "1.0.0", probe())
    times = []
    for n in range(STARTS_PER_RUN):
        started = time.perf_counter()
        await install(backend, module, f"cold-{run}-{n}")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def latencies(session: aiohttp.ClientSession, url: str) -> list[float]:
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        async with session.get(url) as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{url}: {answer.status}")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def events_per_second(store: Store, session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url) as answer:
        before = (await answer.json())["count"]
    uid = str(uuid.uuid4())
    started = time.perf_counter()
    async with store.pool.acquire() as connection:
        await connection.execute(
            """INSERT INTO module_events (installation_uid, namespace, name, topic, payload)
               SELECT $1::uuid, $2, 'emitter', 'bench.tick', to_jsonb(n)
               FROM generate_series(1, $3) AS n""",
            uid,
            NAMESPACE,
            EVENTS,
        )
        last = await connection.fetchval("SELECT max(id) FROM module_events")
    while True:
        async with session.get(url) as answer:
            counted = await answer.json()
        if counted["count"] - before >= EVENTS and counted["last"] >= last:
            break
        await asyncio.sleep(0.05)
    return EVENTS / (time.perf_counter() - started)


def idle_memory(runner_pid: int) -> tuple[float, float]:
    children = [
        p
        for p in psutil.Process(runner_pid).children(recursive=True)
        if "adx_module_sdk.process" in " ".join(p.cmdline())
    ]
    infos = [p.memory_full_info() for p in children]
    count = max(len(infos), 1)
    return sum(i.rss for i in infos) / count / 2**20, sum(i.uss for i in infos) / count / 2**20


async def run(stack: DevStack, work: Path) -> list[str]:
    env = stack.environment()
    files = Files(work / "files")
    runner = runner_process(env, "public", work)
    runner.start()
    rows: list[str] = []
    try:
        await asyncio.sleep(SETTLE_SECONDS)  # the fresh stack's start-up work, done
        async with (
            await Store.connect(env["ADX_DATABASE_URL"]) as store,
            aiohttp.ClientSession() as session,
        ):
            backend = RunnerBackend(store, None, settings_of(runner))
            starts = [await cold_starts(backend, files, run) for run in range(RUNS)]
            floor = [statistics.median(interpreter_start() for _ in range(10)) for _ in range(RUNS)]
            rows.append(
                f"| cold start of a Python module process: provision to healthy "
                f"({STARTS_PER_RUN} installations per run, median of each run) | "
                f"{spread([statistics.median(t) for t in starts], 'ms')} (p99 "
                f"{spread([percentile(t, 0.99) for t in starts], 'ms')}); the interpreter "
                f"alone: {spread(floor, 'ms')} |"
            )
            print(rows[-1], flush=True)
            endpoint = await install(backend, package(files, "probe", "1.0.0", probe()), "api")
            await latencies(session, f"{endpoint}/greet")  # warm
            runs = [await latencies(session, f"{endpoint}/greet") for _ in range(RUNS)]
            rows.append(
                f"| an API route through the runner, one caller ({CALLS:,} calls per run) | "
                f"p50 {spread([percentile(t, 0.5) for t in runs], 'ms', 2)}; "
                f"p99 {spread([percentile(t, 0.99) for t in runs], 'ms', 2)} |"
            )
            print(rows[-1], flush=True)
            counter = await install(
                backend,
                package(
                    files, "counter", "1.0.0", COUNTER, permissions=["event:subscribe:bench.*"]
                ),
                "counter",
            )
            rates = [
                await events_per_second(store, session, f"{counter}/count") for _ in range(RUNS)
            ]
            rows.append(
                f"| events per second, end to end ({EVENTS:,} per run, one subscriber, at least "
                f"once, in order) | {spread(rates, 'events/s', 0)} |"
            )
            print(rows[-1], flush=True)
            idle = []
            for _ in range(RUNS):
                for n in range(IDLE_MODULES):
                    await install(backend, package(files, "probe", "1.0.0", probe()), f"idle-{n}")
                await asyncio.sleep(2)
                idle.append(idle_memory(runner.pid))
            rss, uss = [m[0] for m in idle], [m[1] for m in idle]
            rows.append(
                f"| memory per idle module process ({IDLE_MODULES} and more installed) | RSS "
                f"{spread(rss, 'MiB')}; USS {spread(uss, 'MiB')} |"
            )
            print(rows[-1], flush=True)
    finally:
        runner.stop()
        files.server.shutdown()
    return rows


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-runner-"))
    with DevStack(work / "stack") as stack:
        rows = asyncio.run(run(stack, work))
    body = "\n".join(
        [
            "## The module runner",
            "",
            f"{machine()}; one fresh local stack; `adx-module-service runner` as a process, SDK "
            "modules installed by the worker's `process` backend steps, each in a confined "
            "process of its own (Landlock, seccomp, rlimits, a pids and a cpu cgroup: 500m), "
            "called over HTTP on loopback "
            f"by an aiohttp client in another process (sharing the 2 cores). {RUNS} runs each, "
            "min / median / max.",
            "",
            "| what | measured |",
            "| --- | --- |",
            *rows,
        ]
    )
    write_section("runner", body)
    print(body)


if __name__ == "__main__":
    main()
