"""The WASM host as users run it (``adx-module-service wasm-host``, a real process, real
wasmtime, real PostgreSQL), driven by the worker's own ``wasm`` sandbox backend: modules fetched
by digest and checked, installed, invoked over HTTP, denied what they were not granted, kept
apart from a hostile neighbour, swapped under load without a failed call, drained on removal,
and found again by a host restarted with ``kill -9``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adx_modules.api import reasons as r
from adx_modules.clients.postgres import Store
from adx_modules.core.errors import StepError
from adx_modules.sandboxes.events import POLL_SECONDS
from adx_modules.sandboxes.wasm.backend import WasmBackend
from adx_modules.sandboxes.wasm.records import WasmRecords
from support import guests
from support.operator import ServiceProcess
from support.stack import StackInfo
from support.wasm import (
    NAMESPACE,
    Files,
    host_process,
    install,
    invoke,
    ref,
    settings_of,
)


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Files]:
    root = tmp_path / "files"
    root.mkdir()
    (root / "hello.json").write_text('{"hello": "world"}')
    served = Files(root)
    yield served
    served.server.shutdown()


@pytest.fixture
def host(stack: StackInfo, db_schema: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = host_process(
        stack.env,
        db_schema,
        tmp_path,
        max_concurrency="2",
        storage_quota_bytes="1024",
        http_requests_per_second="5",
        sync_seconds="1",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def store(stack: StackInfo, db_schema: str, host: ServiceProcess) -> AsyncIterator[Store]:
    async with await Store.connect(stack.database_url, schema=db_schema) as connected:
        yield connected


@pytest.fixture
def backend(store: Store, host: ServiceProcess) -> WasmBackend:
    return WasmBackend(store, None, settings_of(host))


async def test_the_greeter_uses_its_configuration_storage_and_an_allowed_fetch(
    backend: WasmBackend, files: Files, host: ServiceProcess
) -> None:
    endpoint = await install(
        backend,
        files,
        "greeter",
        guests.greeter(),
        permissions=["storage:write:last", f"network:access:127.0.0.1:{files.port}"],
        configuration={"greeting": "hello", "request": {"url": f"{files.url}/hello.json"}},
    )
    assert endpoint == (
        f"{host.env['ADX_WASM_INVOKE_URL']}/v1/tenants/{NAMESPACE}/installations/greeter/invoke"
    )
    async with httpx.AsyncClient() as client:
        first = (await invoke(client, endpoint, body={"n": 1})).json()
        second = (await invoke(client, endpoint, body={"n": 2})).json()
    assert first["greeting"] == "hello"
    assert first["previous"] is None
    assert first["fetched"]["status"] == 200
    assert json.loads(first["fetched"]["body"]) == {"hello": "world"}
    # storage outlives the call (each call gets a fresh instance)
    assert second["previous"] == {"function": "greet", "input": {"n": 1}}


async def test_a_call_without_the_permission_is_denied_to_the_guest_and_audited(
    backend: WasmBackend, files: Files, store: Store
) -> None:
    # the module fetches a host it holds no network:access permission for
    endpoint = await install(
        backend,
        files,
        "greeter",
        guests.greeter(),
        permissions=["storage:write:last"],
        configuration={"request": {"url": f"{files.url}/hello.json"}},
    )
    denied = await install(backend, files, "hoarder", guests.DENIED, functions=["keep"])
    async with httpx.AsyncClient() as client:
        fetch = await invoke(client, endpoint)
        keep = await invoke(client, denied, "keep", {"secret": 1})
    needed = f"network:access:127.0.0.1:{files.port}"
    assert fetch.status_code == 200
    assert fetch.json() == f"http_fetch: needs the permission {needed}, which is not approved"
    assert keep.json() == (
        "storage_put: needs the permission storage:write:secret, which is not approved"
    )
    records = WasmRecords(store)
    assert [(d["call"], d["needed"]) for d in await records.denials(NAMESPACE, "greeter")] == [
        ("http_fetch", needed)
    ]
    assert [d["call"] for d in await records.denials(NAMESPACE, "hoarder")] == ["storage_put"]


async def test_storage_holds_to_its_quota(backend: WasmBackend, files: Files) -> None:
    endpoint = await install(
        backend,
        files,
        "writer",
        guests.WRITER,
        functions=["keep"],
        permissions=["storage:write:blob"],
    )
    async with httpx.AsyncClient() as client:
        small = await invoke(client, endpoint, "keep", {"text": "x" * 100})
        large = await invoke(client, endpoint, "keep", {"text": "x" * 2000})
        again = await invoke(client, endpoint, "keep", {"text": "y" * 900})  # replaces: fits
    assert small.json() is True
    assert large.status_code == 200  # the guest was told, and answered with the reason
    assert large.json().startswith("storage_put: storage quota exceeded")
    assert again.json() is True


async def test_http_fetches_are_rate_limited(backend: WasmBackend, files: Files) -> None:
    endpoint = await install(
        backend,
        files,
        "greeter",
        guests.greeter(),
        permissions=["storage:write:last", f"network:access:127.0.0.1:{files.port}"],
        configuration={"request": {"url": f"{files.url}/hello.json"}},
    )
    async with httpx.AsyncClient() as client:
        answers = [(await invoke(client, endpoint)).json() for _ in range(20)]
    fetched = [a for a in answers if isinstance(a, dict) and a["fetched"]["status"] == 200]
    limited = [a for a in answers if isinstance(a, str)]
    assert len(fetched) >= 10  # the burst: twice the rate of 5 a second
    assert limited
    assert set(limited) == {"http_fetch: too many HTTP requests: the rate limit holds"}


async def test_events_are_published_with_the_permission(
    backend: WasmBackend, files: Files, store: Store
) -> None:
    endpoint = await install(
        backend,
        files,
        "emitter",
        guests.EMITTER,
        functions=["order"],
        permissions=["event:publish:orders"],
    )
    async with httpx.AsyncClient() as client:
        answer = await invoke(client, endpoint, "order", {"id": 7})
    assert answer.json() is True
    rows = await store.pool.fetch("SELECT namespace, name, topic, payload FROM module_events")
    assert [(row["topic"], row["payload"]) for row in rows] == [
        ("orders", {"function": "order", "input": {"id": 7}})
    ]


async def last_event(client: httpx.AsyncClient, endpoint: str, n: int) -> Any:
    """The subscriber's last event once it is the emitter's ``n``-th call (or after 15 s)."""
    seen = None
    for _ in range(150):
        seen = (await invoke(client, endpoint, "read")).json()
        if isinstance(seen, dict) and seen["payload"]["input"] == {"n": n}:
            break
        await asyncio.sleep(0.1)
    return seen


async def test_events_reach_the_subscribers_of_their_tenant_in_order_and_no_one_else(
    backend: WasmBackend, files: Files, store: Store, host: ServiceProcess
) -> None:
    subscribe = ["storage:write:last-event", "event:subscribe:orders"]
    emitter = await install(
        backend,
        files,
        "emitter",
        guests.EMITTER,
        functions=["order"],
        permissions=["event:publish:orders"],
    )
    subscriber = await install(
        backend, files, "subscriber", guests.SUBSCRIBER, functions=["read"], permissions=subscribe
    )
    unsubscribed = await install(  # the same module without the permission to subscribe
        backend,
        files,
        "unsubscribed",
        guests.SUBSCRIBER,
        functions=["read"],
        permissions=["storage:write:last-event"],
    )
    elsewhere = await install(  # another tenant's subscriber
        backend,
        files,
        "subscriber",
        guests.SUBSCRIBER,
        functions=["read"],
        permissions=subscribe,
        namespace="tenant-b",
    )
    async with httpx.AsyncClient() as client:
        for n in range(3):
            assert (await invoke(client, emitter, "order", {"n": n})).json() is True
        got = await last_event(client, subscriber, 2)
        assert isinstance(got, dict), got
        assert (got["topic"], got["source"]) == ("orders", "emitter")
        assert got["payload"] == {"function": "order", "input": {"n": 2}}  # the last, in order
        await asyncio.sleep(POLL_SECONDS + 0.5)  # a whole round of the dispatcher, at least
        assert (await invoke(client, unsubscribed, "read")).json() is None
        assert (await invoke(client, elsewhere, "read")).json() is None
        ids = [row["id"] for row in await store.pool.fetch("SELECT id FROM module_events")]
        assert got["id"] == max(ids)
        cursors = {
            (row["namespace"], row["name"]): row["delivered_id"]
            for row in await store.pool.fetch("SELECT * FROM event_cursors")
        }
        # the subscriber's cursor is past every event (kept across a restart, below); the
        # others' never moved: nothing was delivered to them
        assert cursors[NAMESPACE, "subscriber"] == max(ids)
        assert cursors[NAMESPACE, "unsubscribed"] < min(ids)
        assert cursors["tenant-b", "subscriber"] == 0
        # a host killed and restarted delivers what comes next, and nothing again
        host.kill()
        host.start()
        assert (await invoke(client, emitter, "order", {"n": 3})).json() is True
        after = await last_event(client, subscriber, 3)
        assert after["payload"]["input"] == {"n": 3}
        assert after["id"] == got["id"] + 1


async def test_an_event_a_handler_keeps_failing_on_is_skipped_and_said(
    backend: WasmBackend, files: Files, store: Store, host: ServiceProcess
) -> None:
    emitter = await install(
        backend,
        files,
        "emitter",
        guests.EMITTER,
        functions=["order"],
        permissions=["event:publish:orders"],
    )
    await install(
        backend,
        files,
        "poisoned",
        guests.POISONED,
        functions=["x"],
        permissions=["event:subscribe:orders"],
    )
    async with httpx.AsyncClient() as client:
        assert (await invoke(client, emitter, "order", {"n": 1})).json() is True
        event = await store.pool.fetchval("SELECT max(id) FROM module_events")
        cursor = "SELECT delivered_id FROM event_cursors WHERE name = 'poisoned'"
        for _ in range(300):  # five attempts, a round (2 s) apart
            if await store.pool.fetchval(cursor) == event:
                break
            await asyncio.sleep(0.1)
        health = (
            await client.get(
                f"{host.env['ADX_WASM_ADMIN_URL']}/admin/v1/installations/{NAMESPACE}/poisoned",
                headers={"Authorization": f"Bearer {host.env['ADX_WASM_ADMIN_TOKEN']}"},
            )
        ).json()["health"]
    assert await store.pool.fetchval(cursor) == event  # skipped: the subscriber goes on
    assert health["failures"] == {"Trap": 5}
    assert health["lastError"].startswith(f"event {event} skipped after 5 failed deliveries")


async def test_bad_requests_get_a_clear_status(
    backend: WasmBackend, files: Files, host: ServiceProcess
) -> None:
    endpoint = await install(backend, files, "echo", guests.ECHO, functions=["echo"])
    base = endpoint.rsplit("/installations/", 1)[0]
    admin = host.env["ADX_WASM_ADMIN_URL"]
    async with httpx.AsyncClient() as client:
        unknown = await client.post(f"{base}/installations/nobody/invoke/echo", content=b"{}")
        undeclared = await invoke(client, endpoint, "alloc")  # an export, not a declared one
        not_json = await invoke(client, endpoint, "echo", b"{nope")
        too_big = await invoke(client, endpoint, "echo", b'"' + b"x" * (2 * 2**20) + b'"')
        no_token = await client.get(f"{admin}/admin/v1/installations")
        echoed = await invoke(client, endpoint, "echo", {"a": 1})
        await backend.activate(ref("echo"), False)
        inactive = await invoke(client, endpoint, "echo", {"a": 1})
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")
    assert (undeclared.status_code, undeclared.json()["reason"]) == (404, "FunctionNotDeclared")
    assert "declared: echo" in undeclared.json()["message"]
    assert (not_json.status_code, not_json.json()["reason"]) == (400, "BadRequest")
    assert too_big.status_code == 413
    assert no_token.status_code == 401
    assert echoed.json() == {"function": "echo", "input": {"a": 1}}
    assert (inactive.status_code, inactive.json()["reason"]) == (503, "NotActive")


async def test_garbage_arguments_to_every_host_function_are_refused_and_the_call_goes_on(
    backend: WasmBackend, files: Files, host: ServiceProcess
) -> None:
    endpoint = await install(
        backend,
        files,
        "garbage",
        guests.GARBAGE,
        functions=["x"],
        permissions=["storage:write:*", "event:publish:*", "network:access:*"],
    )
    async with httpx.AsyncClient() as client:
        answers = [await invoke(client, endpoint, "x") for _ in range(3)]
    assert [(a.status_code, a.json()) for a in answers] == [(200, True)] * 3
    assert "Traceback" not in host.log()


async def test_the_concurrency_cap_answers_429(backend: WasmBackend, files: Files) -> None:
    endpoint = await install(backend, files, "slow", guests.SLOW, functions=["work"])
    async with httpx.AsyncClient() as client:
        answers = await asyncio.gather(*(invoke(client, endpoint, "work") for _ in range(8)))
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) == {200, 429}, statuses  # the cap is 2 in flight
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["reason"] == "TooManyCalls"


async def test_modules_that_cannot_run_are_refused_before_they_serve(
    backend: WasmBackend, files: Files
) -> None:
    with pytest.raises(StepError) as link:
        await install(backend, files, "spawner", guests.UNDECLARED_IMPORT, functions=["x"])
    assert link.value.reason.name == r.INVALID_MODULE
    assert "LinkFailed" in link.value.message
    with pytest.raises(StepError) as probe:
        await install(backend, files, "exportless", guests.NO_HANDLE, functions=["x"])
    assert probe.value.reason.name == r.HEALTH_CHECK_FAILED
    assert "MissingExport" in probe.value.message


async def load(client: httpx.AsyncClient, endpoint: str, stop: asyncio.Event) -> list[int]:
    """Calls one after another until ``stop``; the status of each."""
    statuses = []
    while not stop.is_set():
        statuses.append((await invoke(client, endpoint, "echo", {"n": len(statuses)})).status_code)
    return statuses


@pytest.mark.parametrize("kind", sorted(guests.HOSTILE))
async def test_a_hostile_guest_ends_its_own_call_while_a_neighbour_serves_on(
    backend: WasmBackend, files: Files, host: ServiceProcess, kind: str
) -> None:
    neighbour = await install(backend, files, "echo", guests.ECHO, functions=["echo"])
    hostile = await install(
        backend,
        files,
        "hostile",
        guests.HOSTILE[kind],
        functions=["run"],
        resources={"limits": {"cpu": "100m", "memory": "2Mi"}},
    )
    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:
        busy = [asyncio.create_task(load(client, neighbour, stop)) for _ in range(2)]
        await asyncio.sleep(0.2)
        ends = [await invoke(client, hostile, "run") for _ in range(3)]
        stop.set()
        neighbour_statuses = [status for task in busy for status in await task]
        health = await client.get(
            f"{host.env['ADX_WASM_ADMIN_URL']}/admin/v1/installations/{NAMESPACE}/hostile",
            headers={"Authorization": f"Bearer {host.env['ADX_WASM_ADMIN_TOKEN']}"},
        )
    status, reasons = guests.HOSTILE_ENDS[kind]
    for end in ends:
        assert end.status_code == status, end.text
        assert end.json()["reason"] in reasons, end.text
    assert len(neighbour_statuses) >= 10
    assert set(neighbour_statuses) == {200}
    counted = health.json()["health"]
    assert counted["calls"] == 3
    assert sum(counted["failures"].values()) == 3
    assert counted["lastError"].split(":")[0] in reasons


def version_guest(answer: str) -> str:
    """Answers ``answer`` (a JSON text)."""
    return guests.guest(
        f"(call $pack (i32.const 32) (i32.const {len(answer)}))",
        data=f"(data (i32.const 32) {json.dumps(answer)})",
    )


async def test_an_update_and_a_rollback_under_load_fail_no_call(
    backend: WasmBackend, files: Files
) -> None:
    endpoint = await install(backend, files, "echo", version_guest('"v1"'), functions=["echo"])
    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:

        async def answers() -> list[tuple[int, str]]:
            seen = []
            while not stop.is_set():
                answer = await invoke(client, endpoint, "echo")
                seen.append((answer.status_code, answer.text))
            return seen

        # one caller without pause, and the checks below: at most two calls in flight, the
        # host's cap in these tests (a third would be refused, 429, by design)
        busy = [asyncio.create_task(answers())]
        await asyncio.sleep(0.3)
        await install(  # the update: revision 2 loads beside 1, is probed, then serves
            backend,
            files,
            "echo",
            version_guest('"v2"'),
            version="2.0.0",
            revision=2,
            functions=["echo"],
        )
        await asyncio.sleep(0.3)
        after_update = (await invoke(client, endpoint, "echo")).json()
        await install(  # the rollback: revision 1 again
            backend, files, "echo", version_guest('"v1"'), revision=1, functions=["echo"]
        )
        await asyncio.sleep(0.3)
        stop.set()
        seen = [item for task in busy for item in await task]
        after_rollback = (await invoke(client, endpoint, "echo")).json()
    assert {status for status, _ in seen} == {200}, [s for s in seen if s[0] != 200][:3]
    assert {text for _, text in seen} == {'"v1"', '"v2"'}
    assert (after_update, after_rollback) == ("v2", "v1")
    assert len(seen) >= 20


async def test_a_host_killed_and_restarted_serves_what_it_served(
    backend: WasmBackend, files: Files, host: ServiceProcess
) -> None:
    endpoint = await install(
        backend,
        files,
        "greeter",
        guests.greeter(),
        permissions=["storage:write:last"],
        configuration={"greeting": "again"},
    )
    async with httpx.AsyncClient() as client:
        assert (await invoke(client, endpoint, body={"before": True})).status_code == 200
        host.kill()
        host.start()
        after = await invoke(client, endpoint, body={"after": True})
    assert after.status_code == 200, after.text
    assert after.json()["greeting"] == "again"
    assert after.json()["previous"] == {"function": "greet", "input": {"before": True}}
    assert "cannot load" not in host.log()


async def test_deprovision_drains_and_leaves_nothing_behind(
    backend: WasmBackend, files: Files, store: Store
) -> None:
    endpoint = await install(
        backend, files, "greeter", guests.greeter(), permissions=["storage:write:last"]
    )
    async with httpx.AsyncClient() as client:
        assert (await invoke(client, endpoint)).status_code == 200
        removed = await backend.deprovision(ref("greeter"), lambda _: None)
        again = await backend.deprovision(ref("greeter"), lambda _: None)
        gone = await invoke(client, endpoint)
    assert removed == ["WasmModule/greeter"]
    assert again == []  # idempotent
    assert gone.status_code == 404
    for table in ("wasm_installations", "wasm_revisions", "module_storage", "wasm_modules"):
        query = f"SELECT count(*) FROM {table}"  # noqa: S608 - fixed names
        assert await store.pool.fetchval(query) == 0, table


async def test_sandbox_max_sandboxes_refuses_a_new_installation(
    store: Store, files: Files, host: ServiceProcess
) -> None:
    limited = WasmBackend(store, None, settings_of(host, max_sandboxes=1))
    await install(limited, files, "echo", guests.ECHO, functions=["echo"])
    await install(limited, files, "echo", guests.ECHO, functions=["echo"])  # itself: fine
    with pytest.raises(StepError) as refused:
        await install(limited, files, "other", guests.ECHO, functions=["echo"])
    assert refused.value.reason.name == r.SANDBOX_LIMIT_REACHED
    assert "sandbox.max_sandboxes is 1" in refused.value.message


async def test_module_metrics_are_exported(
    backend: WasmBackend, files: Files, host: ServiceProcess
) -> None:
    endpoint = await install(backend, files, "echo", guests.ECHO, functions=["echo"])
    async with httpx.AsyncClient() as client:
        await invoke(client, endpoint, "echo")
        text = (await client.get(f"http://127.0.0.1:{host.metrics_port}/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    ours = {"namespace": NAMESPACE, "installation": "echo"}
    calls = (
        "module_execution_duration_seconds_count",
        {**ours, "function": "echo", "outcome": "ok"},
    )
    fuel = ("module_resource_usage", {**ours, "resource": "fuel"})
    assert samples[calls[0], tuple(sorted(calls[1].items()))] == 1
    assert samples[fuel[0], tuple(sorted(fuel[1].items()))] > 0
