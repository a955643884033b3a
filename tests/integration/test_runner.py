"""The module runner as users run it (``adx-module-service runner``, a real process; real module
processes; real PostgreSQL), driven by the worker's own ``process`` sandbox backend: a Python
module written with the SDK is packaged, fetched by digest, started confined, called over HTTP,
kept to the permissions it was granted, updated, uninstalled; hostile modules are stopped with
the reason while their neighbour keeps answering."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from adx_modules.api import reasons as r
from adx_modules.api.module import ModuleSpec
from adx_modules.clients.postgres import Store, module_schema
from adx_modules.core.errors import StepError
from adx_modules.sandboxes.events import POLL_SECONDS
from adx_modules.sandboxes.runner.backend import RunnerBackend
from adx_modules.sandboxes.runner.placement import RunnerPlacement
from adx_modules.sandboxes.runner.records import RunnerRecords
from support.operator import ServiceProcess
from support.runner import call, install, package, runner_process, settings_of
from support.sdk_guests import GREETER_JS, probe
from support.stack import StackInfo
from support.wasm import NAMESPACE, Files, ref

PERMISSIONS = ["storage:write:notes/*", "event:publish:orders.*"]


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Files]:
    root = tmp_path / "files"
    root.mkdir()
    (root / "hello.json").write_text('{"hello": "world"}')
    served = Files(root)
    yield served
    served.server.shutdown()


@pytest.fixture
def runner(stack: StackInfo, db_schema: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = runner_process(
        {**stack.env, "ADX_SANDBOX_TRUSTED_MODULES": "trusted"},
        db_schema,
        tmp_path,
        request_timeout_seconds="3",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def store(stack: StackInfo, db_schema: str, runner: ServiceProcess) -> AsyncIterator[Store]:
    async with await Store.connect(stack.database_url, schema=db_schema) as connected:
        yield connected


@pytest.fixture
def backend(store: Store, runner: ServiceProcess) -> RunnerBackend:
    return RunnerBackend(store, None, settings_of(runner))


@pytest.fixture
def module(files: Files) -> ModuleSpec:
    return package(
        files,
        "probe",
        "1.0.0",
        probe("1.0.0"),
        permissions=[
            *PERMISSIONS,
            "event:subscribe:orders.*",
            f"network:access:127.0.0.1:{files.port}",
        ],
    )


def _children(runner: ServiceProcess) -> list[psutil.Process]:
    assert runner._popen is not None
    return psutil.Process(runner._popen.pid).children(recursive=True)


async def test_a_module_serves_its_routes_in_a_confined_process_of_its_own(
    backend: RunnerBackend, module: ModuleSpec, runner: ServiceProcess, files: Files
) -> None:
    endpoint = await install(backend, module, "probe", configuration={"greeting": "hi"})
    assert endpoint == (
        f"{runner.env['ADX_RUNNER_INVOKE_URL']}/v1/tenants/{NAMESPACE}/installations/probe/api"
    )
    async with httpx.AsyncClient() as client:
        greeted = await call(client, endpoint, "/greet", {"name": "Ada"})
        wrong_method = await call(client, endpoint, "/greet", method="DELETE")
        no_route = await call(client, endpoint, "/nothing")
    assert greeted.status_code == 200, greeted.text
    answer = greeted.json()
    assert answer["message"] == "hi, Ada"
    pid = answer["pid"]
    assert runner._popen is not None
    assert pid != runner._popen.pid
    assert pid in [p.pid for p in _children(runner)]
    child = psutil.Process(pid)
    # a stripped environment: nothing of the runner's (no database URL, no token)
    assert set(child.environ()) <= {"PATH", "LANG", "HOME", "TMPDIR", "LC_CTYPE"}, child.environ()
    assert wrong_method.status_code == 405
    assert wrong_method.json()["reason"] == "MethodNotAllowed"
    assert no_route.status_code == 404
    assert no_route.json()["reason"] == "NoSuchRoute"
    described = (await backend.describe(ref("probe"))).objects
    assert described == [f"ModuleProcess/probe@{_digest(files)}"]


def _digest(files: Files) -> str:
    return "sha256:" + hashlib.sha256((files.root / "probe-1.0.0.adx").read_bytes()).hexdigest()


async def test_every_sdk_call_is_held_to_the_approved_permissions(
    backend: RunnerBackend, module: ModuleSpec, files: Files, store: Store
) -> None:
    # the tenant approves storage and events, not the network access the module declares
    endpoint = await install(backend, module, "probe", approved=PERMISSIONS)
    async with httpx.AsyncClient() as client:
        stored = await call(client, endpoint, "/storage", {"key": "notes/a", "value": {"n": 1}})
        denied_key = await call(client, endpoint, "/storage", {"key": "secrets", "value": 1})
        emitted = await call(client, endpoint, "/emit", {"topic": "orders.created", "payload": 1})
        denied_topic = await call(
            client, endpoint, "/emit", {"topic": "billing.paid", "payload": 1}
        )
        fetched = await call(client, endpoint, "/fetch", {"url": f"{files.url}/hello.json"})
        configured = await call(client, endpoint, "/config", {"key": "greeting", "value": "hey"})
    assert stored.json() == {"stored": {"n": 1}}
    assert denied_key.status_code == 403
    assert denied_key.json() == {
        "code": "PermissionDenied",
        "message": "needs the permission storage:write:secrets, which is not approved",
    }
    assert emitted.json() == {"emitted": "orders.created"}
    assert denied_topic.json()["message"] == (
        "needs the permission event:publish:billing.paid, which is not approved"
    )
    assert fetched.json()["message"] == (
        f"needs the permission network:access:127.0.0.1:{files.port}, which is not approved"
    )
    # config.set persists per installation in PostgreSQL, not in the spec
    assert configured.json()["greeting"] == "hey"
    async with store.pool.acquire() as connection:
        topics = await connection.fetch(
            "SELECT topic FROM module_events WHERE namespace = $1 AND name = 'probe'", NAMESPACE
        )
        denials = await connection.fetch(
            "SELECT call, needed FROM capability_denials WHERE name = 'probe' ORDER BY id"
        )
        setting = await connection.fetchval(
            "SELECT value FROM module_settings WHERE key = 'greeting'"
        )
    assert [row["topic"] for row in topics] == ["orders.created"]
    assert [row["needed"] for row in denials] == [
        "storage:write:secrets",
        "event:publish:billing.paid",
        f"network:access:127.0.0.1:{files.port}",
    ]
    assert setting == "hey"


async def test_events_reach_the_tenants_subscribers_once_each_and_no_one_else(
    backend: RunnerBackend, module: ModuleSpec
) -> None:
    listening = [*PERMISSIONS, "event:subscribe:orders.*"]
    listener = await install(backend, module, "listener", approved=listening)
    emitter = await install(backend, module, "emitter", approved=PERMISSIONS)  # no subscribing
    stranger = await install(backend, module, "stranger", approved=listening, namespace="tenant-b")
    async with httpx.AsyncClient() as client:
        for n in range(3):
            emitted = await call(
                client, emitter, "/emit", {"topic": "orders.created", "payload": n}
            )
            assert emitted.status_code == 200, emitted.text
        for _ in range(40):
            seen = (await call(client, listener, "/seen", method="GET")).json()
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(POLL_SECONDS + 0.5)  # a whole round more: nothing is delivered twice
        seen = (await call(client, listener, "/seen", method="GET")).json()
        unseen = (await call(client, stranger, "/seen", method="GET")).json()
        own = (await call(client, emitter, "/seen", method="GET")).json()
    assert [(e["topic"], e["payload"], e["source"]) for e in seen] == [
        ("orders.created", n, "emitter") for n in range(3)
    ]
    assert [e["id"] for e in seen] == sorted({e["id"] for e in seen})  # in order, no repeats
    assert unseen == []  # another tenant's subscriber
    assert own == []  # no event:subscribe permission: nothing delivered


async def test_an_allowed_fetch_goes_through_the_runner_and_no_socket_of_its_own(
    backend: RunnerBackend, module: ModuleSpec, files: Files
) -> None:
    endpoint = await install(backend, module, "probe")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.5)
        async with httpx.AsyncClient() as client:
            fetched = await call(client, endpoint, "/fetch", {"url": f"{files.url}/hello.json"})
            # the module's own sockets are refused by the kernel, granted host or not: TCP
            # (Landlock, seccomp) and UDP (seccomp)
            connected = await call(client, endpoint, "/connect", {"port": files.port})
            datagram = await call(client, endpoint, "/udp", {"port": listener.getsockname()[1]})
        with pytest.raises(TimeoutError):
            listener.recv(16)
    assert fetched.json() == {"status": 200, "body": '{"hello": "world"}'}
    for refused in (connected, datagram):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "PermissionError"


async def test_files_outside_the_package_and_workdir_are_refused_by_the_kernel(
    backend: RunnerBackend, module: ModuleSpec, runner: ServiceProcess, tmp_path: Path
) -> None:
    secret = tmp_path / "runner" / "secret.txt"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("the runner's own file")
    endpoint = await install(backend, module, "probe")
    async with httpx.AsyncClient() as client:
        own = await call(client, endpoint, "/read", {"path": "src/module.py"})
        passwd = await call(client, endpoint, "/read", {"path": "/etc/passwd"})
        runners = await call(client, endpoint, "/read", {"path": str(secret)})
    # its working directory is its own; the package is read through its absolute path
    assert own.status_code == 403  # src/ is in the package, not the working directory
    for refused in (passwd, runners):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "PermissionError"


async def test_hostile_modules_are_stopped_with_the_reason_and_the_neighbour_answers(
    backend: RunnerBackend, module: ModuleSpec, runner: ServiceProcess
) -> None:
    neighbour = await install(backend, module, "neighbour")
    hostile = await install(backend, module, "hostile")
    async with httpx.AsyncClient() as client:
        first_pid = (await call(client, hostile, "/greet")).json()["pid"]
        bomb = await call(client, hostile, "/fork-bomb")
        assert bomb.status_code == 200, bomb.text
        assert bomb.json()["forked"] < 64
        assert "BlockingIOError" in bomb.json()["refused"] or "Resource" in bomb.json()["refused"]
        hog = await call(client, hostile, "/memory-hog")
        assert hog.status_code == 507
        assert (await call(client, neighbour, "/greet")).status_code == 200
        spin = await call(client, hostile, "/spin")
        assert spin.status_code == 504
        assert spin.json()["reason"] == "DeadlineExceeded"
        assert "took over 3s" in spin.json()["message"]
        # the neighbour answered all along, and the spinner's process was replaced
        assert (await call(client, neighbour, "/greet")).status_code == 200
        for _ in range(40):
            again = await call(client, hostile, "/greet")
            if again.status_code == 200:
                break
            await asyncio.sleep(0.5)
    assert again.status_code == 200
    assert again.json()["pid"] != first_pid
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"
    admin = RunnerPlacement(settings_of(runner).runner).admin(NAMESPACE)
    described = await admin.call("GET", ref("hostile"))
    assert described[1]["lastExit"].startswith("killed by SIGKILL (POST /spin took over 3s)")
    assert described[1]["restarts"] == 1


async def test_a_module_uses_no_more_cpu_than_its_declared_limit(
    backend: RunnerBackend, files: Files, runner: ServiceProcess
) -> None:
    capped = package(
        files,
        "capped",
        "1.0.0",
        probe("1.0.0"),
        permissions=PERMISSIONS,
        resources={"limits": {"cpu": "100m", "memory": "256Mi"}},
    )
    endpoint = await install(backend, capped, "capped")
    async with httpx.AsyncClient() as client:
        burned = await call(client, endpoint, "/burn", {"seconds": 1.5})
    assert burned.status_code == 200, burned.text
    # 100 millicores over 1.5 s of wall time is 0.15 s of CPU; unbounded, a spinning loop
    # gets most of a core in that time even on a busy machine
    assert burned.json()["cpu_seconds"] < 0.35
    admin = RunnerPlacement(settings_of(runner).runner).admin(NAMESPACE)
    described = (await admin.call("GET", ref("capped")))[1]
    assert described["enforced"]["cpu_limit"] == "cpu cgroup, at most 100 millicores"


async def test_a_workflow_step_is_held_to_its_declared_input_and_output_schemas(
    backend: RunnerBackend, module: ModuleSpec, runner: ServiceProcess
) -> None:
    await install(backend, module, "typed")
    admin = RunnerPlacement(settings_of(runner).runner).admin(NAMESPACE)

    async def step(given: object) -> tuple[int, dict[str, object]]:
        return await admin.request(
            "POST", f"{NAMESPACE}/typed/workflows/typed", body={"input": given}
        )

    assert await step({"n": 2}) == (200, {"output": {"doubled": 4}})
    status, refused = await step({"n": "two"})
    assert status == 422
    assert refused["reason"] == "ModuleWorkflowInputInvalid"
    assert refused["message"] == "input.n: 'two' is not of type 'integer'"
    status, failed = await step({"n": -1})
    assert status == 502
    assert failed["reason"] == "ModuleWorkflowOutputInvalid"
    assert "'doubled' is a required property" in str(failed["message"])


LEDGER_V1 = {
    "migrations/001_entries.sql": "CREATE TABLE entries (id serial PRIMARY KEY, note text);"
}
LEDGER_V2 = {
    **LEDGER_V1,
    "migrations/002_amount.sql": "ALTER TABLE entries ADD COLUMN amount integer DEFAULT 0;",
}


async def test_a_module_gets_a_database_of_its_own_migrated_queried_and_dropped(
    backend: RunnerBackend, files: Files, store: Store, db_schema: str
) -> None:
    first = package(
        files, "ledger", "1.0.0", probe("1.0.0"), permissions=PERMISSIONS, extra=LEDGER_V1
    )
    assert first.extension_points is not None
    assert [m.name for m in first.extension_points.migrations] == ["001_entries.sql"]
    endpoint = await install(backend, first, "ledger")
    other = await install(backend, first, "ledger-b")  # another installation: another schema
    async with httpx.AsyncClient() as client:
        inserted = await call(
            client,
            endpoint,
            "/db",
            {"sql": "INSERT INTO entries (note) VALUES ($1) RETURNING id, note", "params": ["tea"]},
        )
        assert inserted.json() == [{"id": 1, "note": "tea"}]
        # the module's role reaches nothing but its own schema
        for table in (
            f"{db_schema}.runner_installations",  # the service's own
            f"{module_schema(ref('ledger-b').uid)}.entries",  # another installation's
            "pg_catalog.pg_authid",
        ):
            refused = await call(client, endpoint, "/db", {"sql": f"SELECT * FROM {table}"})  # noqa: S608
            assert refused.status_code == 403, refused.text
            assert "permission denied" in refused.json()["message"]
        empty = await call(client, other, "/db", {"sql": "SELECT count(*) AS n FROM entries"})
        assert empty.json() == [{"n": 0}]
        # an update ships a second migration: applied once, before the new code runs
        second = package(
            files, "ledger", "1.1.0", probe("1.1.0"), permissions=PERMISSIONS, extra=LEDGER_V2
        )
        await install(backend, second, "ledger", revision=2)
        await install(backend, second, "ledger", revision=2)  # a retried step: applied once
        rows = await call(client, endpoint, "/db", {"sql": "SELECT note, amount FROM entries"})
        assert rows.json() == [{"note": "tea", "amount": 0}]
        # a migration edited after it was applied is refused, naming it
        edited = package(
            files,
            "ledger",
            "1.2.0",
            probe("1.2.0"),
            permissions=PERMISSIONS,
            extra={**LEDGER_V2, "migrations/001_entries.sql": "CREATE TABLE entries (x int);"},
        )
        with pytest.raises(StepError, match=r"001_entries\.sql changed since it was applied"):
            await install(backend, edited, "ledger", revision=3)
    schema = module_schema(ref("ledger").uid)
    assert await backend.deprovision(ref("ledger"), lambda _: None) == [
        "ModuleProcess/ledger",
        f"ModuleDatabase/{schema}",
    ]
    async with store.pool.acquire() as connection:
        assert (
            await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", schema) is None
        )
        assert (
            await connection.fetchval(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", schema
            )
            is None
        )
    await backend.deprovision(ref("ledger-b"), lambda _: None)


async def test_an_update_replaces_the_process_and_uninstall_cleans_up(
    backend: RunnerBackend, module: ModuleSpec, files: Files, store: Store, runner: ServiceProcess
) -> None:
    endpoint = await install(backend, module, "probe")
    async with httpx.AsyncClient() as client:
        await call(client, endpoint, "/storage", {"key": "notes/a", "value": 1})
        old = (await call(client, endpoint, "/greet")).json()
        newer = package(files, "probe", "1.1.0", probe("1.1.0"), permissions=module.permissions)
        await install(backend, newer, "probe", revision=2)
        new = (await call(client, endpoint, "/greet")).json()
        assert (new["version"], old["version"]) == ("1.1.0", "1.0.0")
        assert new["pid"] != old["pid"]
        assert not psutil.pid_exists(old["pid"])
        removed = await backend.deprovision(ref("probe"), lambda _: None)
        gone = await call(client, endpoint, "/greet")
    assert removed == ["ModuleProcess/probe"]
    assert gone.status_code == 404
    assert not psutil.pid_exists(new["pid"])
    assert await RunnerRecords(store).registrations() == []
    async with store.pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM module_storage") == 0
    assert not (Path(runner.env["ADX_RUNNER_WORK_DIR"]) / "work" / NAMESPACE / "probe").exists()


async def test_a_module_that_cannot_start_fails_the_health_step_with_its_error(
    backend: RunnerBackend, files: Files
) -> None:
    code = (
        "from adx_module_sdk import Module\n\n\nclass Broken(Module):\n"
        "    async def initialize(self, config):\n"
        "        raise RuntimeError('the database it needs is not configured')\n"
    )
    broken = package(files, "broken", "1.0.0", code)
    with pytest.raises(StepError) as failed:
        await install(backend, broken, "broken")
    assert failed.value.reason.name == r.HEALTH_CHECK_FAILED
    assert failed.value.message == (
        "revision 1 did not start: LoadError: the module failed to start: "
        "RuntimeError: the database it needs is not configured"
    )


async def test_a_runner_killed_starts_its_modules_again(
    backend: RunnerBackend, module: ModuleSpec, runner: ServiceProcess
) -> None:
    endpoint = await install(backend, module, "probe")
    async with httpx.AsyncClient() as client:
        before = (await call(client, endpoint, "/greet")).json()["pid"]
        assert runner._popen is not None
        os.kill(runner._popen.pid, signal.SIGKILL)
        runner._popen.wait()
        runner.start()
        after = await call(client, endpoint, "/greet")
    assert after.status_code == 200
    assert after.json()["pid"] != before


async def test_a_trusted_module_runs_in_the_runners_process_and_no_other_may(
    store: Store, runner: ServiceProcess, files: Files
) -> None:
    none = RunnerBackend(store, None, settings_of(runner), "none")
    trusted = package(files, "trusted", "1.0.0", probe(), permissions=PERMISSIONS)
    endpoint = await install(none, trusted, "trusted", isolation="none")
    async with httpx.AsyncClient() as client:
        greeted = (await call(client, endpoint, "/greet")).json()
        stored = await call(client, endpoint, "/storage", {"key": "secrets", "value": 1})
    assert runner._popen is not None
    assert greeted["pid"] == runner._popen.pid  # no process of its own
    assert stored.status_code == 403  # its SDK calls still need their permissions
    untrusted = package(files, "probe", "1.0.0", probe(), permissions=PERMISSIONS)
    with pytest.raises(StepError) as refused:
        await install(none, untrusted, "untrusted", isolation="none")
    assert refused.value.message == (
        "revision 1 did not start: probe is not in sandbox.trusted_modules: it may not run "
        "unconfined"
    )


async def test_a_javascript_module_runs_under_node_confined_the_same_way(
    backend: RunnerBackend, files: Files, runner: ServiceProcess
) -> None:
    module = package(
        files, "greeter-js", "1.0.0", GREETER_JS, runtime="javascript", permissions=PERMISSIONS
    )
    endpoint = await install(backend, module, "greeter-js", configuration={"greeting": "hej"})
    async with httpx.AsyncClient() as client:
        greeted = await call(client, endpoint, "/greet", {"name": "Ada"})
        assert greeted.status_code == 200, greeted.text
        answer = greeted.json()
        assert (answer["message"], answer["runtime"]) == ("hej, Ada", "node")
        assert answer["pid"] in [p.pid for p in _children(runner)]
        assert "node" in psutil.Process(answer["pid"]).name()
        stored = await call(client, endpoint, "/storage", {"key": "notes/a", "value": [1]})
        denied = await call(client, endpoint, "/storage", {"key": "secrets", "value": 1})
        passwd = await call(client, endpoint, "/read", {"path": "/etc/passwd"})
        connected = await call(client, endpoint, "/connect", {"port": files.port})
        assert stored.json() == {"stored": [1]}
        assert denied.json() == {
            "code": "PermissionDenied",
            "message": "needs the permission storage:write:secrets, which is not approved",
        }
        assert (passwd.status_code, passwd.json()["error"]) == (403, "EACCES")
        assert connected.status_code == 403, connected.text  # Landlock: no TCP of its own
        # past its heap (the module's memory limit) V8 ends the process; the runner starts it
        hog = await call(client, endpoint, "/hog")
        assert hog.status_code == 502
        assert hog.json()["reason"] == "ModuleCrashed"
        for _ in range(40):
            again = await call(client, endpoint, "/greet")
            if again.status_code == 200:
                break
            await asyncio.sleep(0.5)
    assert again.json()["pid"] != answer["pid"]
