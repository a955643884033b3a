"""Benchmark: the WASM host (issue 11's figures), on a fresh local stack.

- *instantiate*: a fresh Store (fuel, deadline, memory limit, WASI) and an instance of a
  compiled, pre-linked module, as every call makes one (``WasmEngine.instantiate``), in
  process; target p99 at most 100 µs; and a whole call in process (instantiate, the ABI's
  exports, ``alloc``, ``handle``, the answer read);
- *invoke over HTTP*: one caller, calls one after another to the host process (echo module);
  p50/p99 of the round trip, client included;
- *calls per second*: 16 callers at once over two installations (the client shares the 2 cores
  with the host);
- *a Go module* (examples/wasm/go's greeter, built with the stock toolchain) over HTTP: its
  runtime starts on every call;
- *runaway guest*: an infinite loop at 100m CPU (stopped by fuel) and at 4 CPUs (stopped by its
  1 s wall-clock deadline, the epoch): time to the error answer, and the overshoot past the
  deadline; target within 100 ms;
- *idle memory per installed module*: the host's RSS before and after 100 more modules
  (distinct digests) are installed and called once;
- *hot swap under load*: 8 callers while the installation is swapped 10 times between two
  revisions; failed calls (target zero).

No peer runs here to measure beside: Spin, wasmCloud and Kubewarden's policy server are not
installable from this machine's package registries (docs/wasm.md says what each does
differently). Three runs each, min / median / max. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402
from adx_modules.sandboxes.wasm.backend import WasmBackend  # noqa: E402
from adx_modules.sandboxes.wasm.engine import WasmEngine  # noqa: E402
from adx_modules.sandboxes.wasm.limits import CallLimits  # noqa: E402
from support import guests  # noqa: E402
from support.wasm import Files, host_process, install, settings_of  # noqa: E402

RUNS = 3
INSTANTIATIONS = 5_000
SEQUENTIAL_CALLS = 1_000
THROUGHPUT_SECONDS = 5.0
MODULES_FOR_MEMORY = 100
SETTLE_SECONDS = 15


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f} {unit}"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def in_process(work: Path) -> list[str]:
    engine = WasmEngine(work / "engine-cache")
    binary = guests.binary(guests.ECHO)
    compiled = engine.load(guests.digest(binary), binary)
    limits = CallLimits.of(None)
    payload = b'{"function": "echo", "input": {"n": 1}}'
    rows = []
    for what, step in (
        ("instantiate a compiled module (in process", lambda: engine.instantiate(compiled, limits)),
        ("a whole call (in process", lambda: engine.call(compiled, payload, limits)),
    ):
        p50s, p99s = [], []
        for _ in range(RUNS):
            times = []
            for _ in range(INSTANTIATIONS):
                started = time.perf_counter()
                step()
                times.append((time.perf_counter() - started) * 1e6)
            p50s.append(percentile(times, 0.5))
            p99s.append(percentile(times, 0.99))
        target = "p99 ≤ 100 µs" if what.startswith("instantiate") else ""
        rows.append(
            f"| {what}, {INSTANTIATIONS:,} per run) | p50 {spread(p50s, 'µs')}; "
            f"p99 {spread(p99s, 'µs')} | {target} |"
        )
    engine.close()
    return rows


async def post(session: aiohttp.ClientSession, url: str, body: object) -> None:
    """One call, which must succeed (aiohttp: the lightest client here, so the figures are the
    host's more than the client's)."""
    async with session.post(url, json=body) as answer:
        text = await answer.text()
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status} {text}")


async def sequential(session: aiohttp.ClientSession, url: str, calls: int) -> list[float]:
    times = []
    for n in range(calls):
        started = time.perf_counter()
        await post(session, url, {"n": n})
        times.append((time.perf_counter() - started) * 1000)
    return times


async def throughput(session: aiohttp.ClientSession, urls: list[str]) -> float:
    done = 0
    stop = time.monotonic() + THROUGHPUT_SECONDS

    async def caller(url: str) -> None:
        nonlocal done
        while time.monotonic() < stop:
            await post(session, url, {})
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(caller(url) for url in urls for _ in range(8)))
    return done / (time.monotonic() - started)


async def timed(call: Callable[[], Awaitable[httpx.Response]], reason: set[str]) -> float:
    started = time.perf_counter()
    answer = await call()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.json().get("reason") not in reason:
        raise RuntimeError(f"expected {reason}: {answer.text}")
    return elapsed


async def run(stack: DevStack, work: Path) -> list[str]:
    env = stack.environment()
    files = Files(work / "files")
    host = host_process(env, "public", work, max_concurrency="16")
    host.start()
    rows: list[str] = []
    try:
        await asyncio.sleep(SETTLE_SECONDS)  # the fresh stack's start-up work, done
        async with (
            await Store.connect(env["ADX_DATABASE_URL"]) as store,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session,
        ):
            backend = WasmBackend(store, None, settings_of(host, max_sandboxes=1_000))
            echo = await install(backend, files, "echo", guests.ECHO, functions=["echo"])
            other = await install(backend, files, "echo-2", guests.ECHO, functions=["echo"])
            await sequential(session, f"{echo}/echo", 100)  # warm
            runs = [
                await sequential(session, f"{echo}/echo", SEQUENTIAL_CALLS) for _ in range(RUNS)
            ]
            inside = (
                await client.get(
                    f"{host.env['ADX_WASM_ADMIN_URL']}/admin/v1/installations/tenant-a/echo",
                    headers={"Authorization": f"Bearer {host.env['ADX_WASM_ADMIN_TOKEN']}"},
                )
            ).json()["health"]["latencyMs"]
            rows.append(
                f"| invoke over HTTP, one caller ({SEQUENTIAL_CALLS:,} calls per run; the host's "
                f"own count of its last 1,024: p50 {inside['p50']} ms, p99 {inside['p99']} ms) | "
                f"p50 {spread([percentile(t, 0.5) for t in runs], 'ms', 2)}; "
                f"p99 {spread([percentile(t, 0.99) for t in runs], 'ms', 2)} | |"
            )
            print(rows[-1], flush=True)
            urls = [f"{echo}/echo", f"{other}/echo"]
            rates = [await throughput(session, urls) for _ in range(RUNS)]
            rows.append(
                f"| calls per second, 16 callers on 2 installations ({THROUGHPUT_SECONDS:.0f} s "
                f"per run) | {spread(rates, 'calls/s', 0)} | |"
            )
            print(rows[-1], flush=True)
            go = await install(
                backend,
                files,
                "go-greeter",
                "",
                binary=await asyncio.to_thread(guests.go_greeter, work),
                permissions=["storage:write:last"],
                configuration={"greeting": "hej"},
                resources={"limits": {"cpu": "500m", "memory": "32Mi"}},
            )
            runs = [await sequential(session, f"{go}/greet", 200) for _ in range(RUNS)]
            rows.append(
                "| a Go module over HTTP (its runtime starts every call; 200 calls per run) | "
                f"p50 {spread([percentile(t, 0.5) for t in runs], 'ms', 2)}; "
                f"p99 {spread([percentile(t, 0.99) for t in runs], 'ms', 2)} | |"
            )
            print(rows[-1], flush=True)
            rows += await runaway(backend, files, client)
            rows.append(await memory(backend, files, client, host.pid))
            print(rows[-1], flush=True)
            rows.append(await swap(backend, files, client))
            print(rows[-1], flush=True)
    finally:
        host.stop()
        files.server.shutdown()
    return rows


async def runaway(backend: WasmBackend, files: Files, client: httpx.AsyncClient) -> list[str]:
    loop = guests.HOSTILE["runaway loop"]
    slow = await install(backend, files, "runaway-fuel", loop, functions=["run"])
    fast = await install(
        backend,
        files,
        "runaway-clock",
        loop,
        functions=["run"],
        resources={"limits": {"cpu": "4"}},
    )
    by_fuel = [await timed(lambda: client.post(f"{slow}/run"), {"OutOfFuel"}) for _ in range(RUNS)]
    by_clock = [
        await timed(lambda: client.post(f"{fast}/run"), {"DeadlineExceeded"}) - 1000
        for _ in range(RUNS)
    ]
    found = [
        f"| runaway guest at 100m CPU: answered `OutOfFuel` after | {spread(by_fuel, 'ms')} | "
        "≤ 100 ms |",
        f"| runaway guest at 4 CPUs: `DeadlineExceeded`, past its 1 s deadline by | "
        f"{spread(by_clock, 'ms')} | ≤ 100 ms |",
    ]
    print(*found, sep="\n", flush=True)
    return found


async def memory(backend: WasmBackend, files: Files, client: httpx.AsyncClient, pid: int) -> str:
    per_module = []
    for run_index in range(RUNS):
        before = rss_kib(pid)
        for n in range(MODULES_FOR_MEMORY):
            name = f"idle-{run_index}-{n}"
            text = guests.guest(
                guests.TRUE, data=f'(data (i32.const 32) "{name}")'
            )  # another digest each
            endpoint = await install(backend, files, name, text, functions=["ping"])
            assert (await client.post(f"{endpoint}/ping", json={})).status_code == 200
        per_module.append((rss_kib(pid) - before) / MODULES_FOR_MEMORY)
    return (
        f"| idle memory per installed module (host RSS, {MODULES_FOR_MEMORY} more modules per "
        f"run, each compiled and called once) | {spread(per_module, 'KiB', 0)} | |"
    )


async def swap(backend: WasmBackend, files: Files, client: httpx.AsyncClient) -> str:
    one, two = (
        guests.guest(guests.TRUE),
        guests.guest(guests.TRUE, data='(data (i32.const 64) "2")'),
    )
    endpoint = await install(backend, files, "swapped", one, functions=["s"])
    results = []

    async def caller(stop: asyncio.Event, statuses: list[int]) -> None:
        while not stop.is_set():
            statuses.append((await client.post(f"{endpoint}/s", json={})).status_code)

    for _ in range(RUNS):
        stop = asyncio.Event()
        statuses: list[int] = []
        callers = [asyncio.create_task(caller(stop, statuses)) for _ in range(8)]
        for n in range(10):
            text, version = (two, "2.0.0") if n % 2 == 0 else (one, "1.0.0")
            await install(
                backend, files, "swapped", text, version=version, revision=n + 2, functions=["s"]
            )
        stop.set()
        await asyncio.gather(*callers)
        results.append((len(statuses), sum(1 for s in statuses if s != 200)))
    calls = ", ".join(f"{failed} of {total:,}" for total, failed in results)
    return f"| failed calls while swapped 10 times under 8 callers (per run) | {calls} | 0 |"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-wasm-"))
    rows = in_process(work)  # before the stack starts: nothing else on the cores
    print(*rows, sep="\n", flush=True)
    with DevStack(work / "stack") as stack:
        rows += asyncio.run(run(stack, work))
    body = "\n".join(
        [
            "## The WASM host",
            "",
            f"{machine()}; one fresh local stack; `adx-module-service wasm-host` as a process "
            "(4 call threads), modules installed by the worker's `wasm` backend steps, called "
            "over HTTP on loopback by an aiohttp client in another process (sharing the 2 "
            f"cores). {RUNS} runs each, min / median / max. No peer WASM host is installable "
            "here to run beside it (see docs/wasm.md).",
            "",
            "| what | measured | target |",
            "| --- | --- | --- |",
            *rows,
        ]
    )
    write_section("wasm", body)
    print(body)


if __name__ == "__main__":
    main()
