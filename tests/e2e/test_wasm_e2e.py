"""A WASM module's whole life through the operator, the worker and the WASM host, as users run
them: published to the registry, installed with ``kubectl apply``, invoked at the endpoint its
status shows, updated and rolled back while calls keep coming (not one fails), and uninstalled
with nothing left in the host or its tables."""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from adx_modules.authoring.publish import publish
from support import guests
from support.database import query
from support.kube import Kubectl
from support.objects import API_VERSION, condition, installation_doc, wait_condition, wait_phase
from support.operator import ServiceProcess, json_lines
from support.stack import StackInfo

pytestmark = pytest.mark.usefixtures("operator", "worker", "wasm_host")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    """What the module is allowed to fetch: a local HTTP server."""
    root = tmp_path / "upstream"
    root.mkdir()
    (root / "quote.json").write_text('{"quote": "hello from upstream"}')
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def publish_wasm(
    kubectl: Kubectl,
    registry: str,
    tmp_path: Path,
    *,
    module_id: str,
    version: str,
    binary: bytes,
    permissions: list[str],
) -> None:
    """Push the module to the registry (``adx-module-cli publish``) and apply its Module."""
    directory = tmp_path / f"{module_id}-{version}"
    directory.mkdir()
    manifest: dict[str, Any] = {
        "moduleId": module_id,
        "version": version,
        "displayName": "Greeter",
        "description": "Greets, remembers the last request, fetches a quote.",
        "author": "Tests <tests@adxcore.com>",
        "license": "Apache-2.0",
        "runtime": "wasm",
        "permissions": permissions,
        "extensionPoints": {"workflows": ["greet"]},
        "resources": {"limits": {"cpu": "200m", "memory": "32Mi"}},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "module.wasm").write_bytes(binary)
    published = publish(
        directory / "module.wasm", registry, insecure=True, manifest=directory / "manifest.json"
    )
    name = f"{module_id}-{version.replace('.', '-')}"
    kubectl.apply(
        {
            "apiVersion": API_VERSION,
            "kind": "Module",
            "metadata": {"name": name},
            "spec": {**manifest, "artifact": {"wasm": {"oci": published.reference}}},
        }
    )
    wait_condition(kubectl, f"module/{name}", "Ready")


def publish_echo(kubectl: Kubectl, stack: StackInfo, tmp_path: Path, module_id: str) -> None:
    """The echo guest (it answers its input) as ``module_id`` 1.0.0, asking no permission."""
    publish_wasm(
        kubectl,
        stack.env["ADX_REGISTRY_ADDRESS"],
        tmp_path,
        module_id=module_id,
        version="1.0.0",
        binary=guests.binary(guests.ECHO),
        permissions=[],
    )


async def host_rows(env: dict[str, str], namespace: str) -> int:
    connection = await asyncpg.connect(
        env["ADX_DATABASE_URL"], server_settings={"search_path": env["ADX_DATABASE_SCHEMA_NAME"]}
    )
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM wasm_installations WHERE namespace = $1", namespace
        )
        return count
    finally:
        await connection.close()


async def test_install_invoke_update_and_rollback_under_load_then_uninstall(  # noqa: PLR0917
    kubectl: Kubectl,
    namespace: str,
    stack: StackInfo,
    service_env: dict[str, str],
    upstream: str,
    unique: str,
    tmp_path: Path,
) -> None:
    registry = stack.env["ADX_REGISTRY_ADDRESS"]
    module_id = f"greeter-{unique}"
    permissions = ["storage:write:last", f"network:access:{upstream}"]
    for version, text in (
        ("1.0.0", guests.greeter()),
        ("2.0.0", guests.greeter("v2")),
        ("3.0.0", guests.NO_HANDLE),  # links, but has no handle: fails its probe
    ):
        publish_wasm(
            kubectl,
            registry,
            tmp_path,
            module_id=module_id,
            version=version,
            binary=guests.binary(text),
            permissions=permissions,
        )
    kubectl.apply(
        installation_doc(
            "greeter",
            module_id,
            version="1.0.0",
            approvedPermissions=permissions,
            configuration={"greeting": "one", "request": {"url": f"http://{upstream}/quote.json"}},
            update={"healthTimeoutSeconds": 20},
        )
    )
    mi = wait_phase(kubectl, "mi/greeter", "Active", timeout=120)
    assert mi["status"]["isolation"] == "wasm"
    endpoint = mi["status"]["endpoints"][0]["url"]
    assert endpoint == (
        f"{service_env['ADX_WASM_INVOKE_URL']}/v1/tenants/{namespace}/installations/greeter/invoke"
    )
    # and a name in the tenant's namespace for its pods: a Service owned by the installation
    assert mi["status"]["endpoints"][1] == {
        "name": "service",
        "url": f"http://mod-greeter.{namespace}.svc:{service_env['ADX_WASM_INVOKE_PORT']}"
        f"/v1/tenants/{namespace}/installations/greeter/invoke",
    }
    service = kubectl.json("get", "service", "mod-greeter")
    assert service["spec"]["type"] == "ExternalName"
    assert service["metadata"]["ownerReferences"][0]["uid"] == mi["metadata"]["uid"]

    async with httpx.AsyncClient(timeout=30) as client:
        first = (await client.post(f"{endpoint}/greet", json={"n": 0})).json()
        assert first["greeting"] == "one"
        assert json.loads(first["fetched"]["body"]) == {"quote": "hello from upstream"}

        stop = asyncio.Event()
        seen: list[tuple[int, str | None]] = []

        async def keep_calling() -> None:
            """About 4 calls a second each: under the module's HTTP rate limit (10/s), so
            every answer greets, and a failure can only be the host's."""
            while not stop.is_set():
                answer = await client.post(f"{endpoint}/greet", json={"n": len(seen)})
                body = answer.json()
                greeting = body.get("greeting") if isinstance(body, dict) else None
                seen.append((answer.status_code, greeting or answer.text))
                await asyncio.sleep(0.25)

        callers = [asyncio.create_task(keep_calling()) for _ in range(2)]
        # the update: another binary and another greeting
        kubectl(
            "patch",
            "mi",
            "greeter",
            "--type=merge",
            "-p",
            '{"spec":{"version":"2.0.0","configuration":{"greeting":"two","request":'
            f'{{"url":"http://{upstream}/quote.json"}}}}}}}}',
        )

        def updated() -> dict[str, Any] | None:
            obj: dict[str, Any] = kubectl.json("get", "mi", "greeter")
            status = obj.get("status", {})
            done = status.get("installedVersion") == "2.0.0" and status.get("phase") == "Active"
            return obj if done else None

        await asyncio.to_thread(kubectl.wait_for, updated, 120)
        # a broken version: its probe fails, the update rolls back, revision 2 serves on
        broken_at = len(seen)
        kubectl("patch", "mi", "greeter", "--type=merge", "-p", '{"spec":{"version":"3.0.0"}}')

        def rolled_back() -> dict[str, Any] | None:
            obj: dict[str, Any] = kubectl.json("get", "mi", "greeter")
            return obj if condition(obj, "Remediated").get("status") == "True" else None

        mi = await asyncio.to_thread(kubectl.wait_for, rolled_back, 120)
        rolled_back_at = len(seen)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*callers)

    assert condition(mi, "Remediated")["reason"] == "RollbackSucceeded"
    assert condition(mi, "Stalled")["reason"] == "HealthCheckFailed"
    assert "MissingExport" in mi["status"]["message"]
    assert (mi["status"]["installedVersion"], mi["status"]["phase"]) == ("2.0.0", "Active")
    failed = [item for item in seen if item[0] != 200]
    assert not failed, failed[:3]
    assert rolled_back_at > broken_at  # calls came while the broken version was tried
    greetings = [greeting for _, greeting in seen]
    assert set(greetings) == {"one", "two"}
    assert greetings[-1] == "two"

    kubectl("delete", "mi", "greeter", "--timeout=90s")
    async with httpx.AsyncClient(timeout=30) as client:
        gone = await client.post(f"{endpoint}/greet", json={})
    assert gone.status_code == 404
    assert await host_rows(service_env, namespace) == 0
    assert kubectl("get", "service", "mod-greeter", check=False).returncode != 0


async def test_a_module_built_with_the_stock_go_toolchain_installs_and_serves(
    kubectl: Kubectl, stack: StackInfo, upstream: str, unique: str, tmp_path: Path
) -> None:
    module_id = f"go-greeter-{unique}"
    permissions = ["storage:write:last", f"network:access:{upstream}"]
    publish_wasm(
        kubectl,
        stack.env["ADX_REGISTRY_ADDRESS"],
        tmp_path,
        module_id=module_id,
        version="1.0.0",
        binary=await asyncio.to_thread(guests.go_greeter, tmp_path),
        permissions=permissions,
    )
    kubectl.apply(
        installation_doc(
            "go-greeter",
            module_id,
            approvedPermissions=permissions,
            configuration={"greeting": "hej", "request": {"url": f"http://{upstream}/quote.json"}},
        )
    )
    mi = wait_phase(kubectl, "mi/go-greeter", "Active", timeout=120)
    endpoint = mi["status"]["endpoints"][0]["url"]
    async with httpx.AsyncClient(timeout=30) as client:
        first = (await client.post(f"{endpoint}/greet", json={"n": 1})).json()
        second = (await client.post(f"{endpoint}/greet", json={"n": 2})).json()
    assert (first["runtime"], first["greeting"], first["previous"]) == ("go", "hej", None)
    assert json.loads(first["fetched"]["body"]) == {"quote": "hello from upstream"}
    assert second["previous"] == {"n": 1}
    kubectl("delete", "mi", "go-greeter", "--timeout=90s")


async def test_a_module_whose_calls_fail_is_reported_unhealthy_on_its_installation(
    kubectl: Kubectl, stack: StackInfo, service_env: dict[str, str], unique: str, tmp_path: Path
) -> None:
    module_id = f"trapper-{unique}"
    publish_wasm(
        kubectl,
        stack.env["ADX_REGISTRY_ADDRESS"],
        tmp_path,
        module_id=module_id,
        version="1.0.0",
        binary=guests.binary(guests.HOSTILE["trap"]),  # starts fine, traps on every call
        permissions=[],
    )
    kubectl.apply(installation_doc("trapper", module_id))
    mi = wait_phase(kubectl, "mi/trapper", "Active", timeout=120)
    assert condition(mi, "Healthy")["status"] == "True"
    endpoint = mi["status"]["endpoints"][0]["url"]
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [await client.post(f"{endpoint}/greet", json={}) for _ in range(6)]
    assert {(a.status_code, a.json()["reason"]) for a in answers} == {(502, "Trap")}
    unhealthy = wait_condition(kubectl, "mi/trapper", "Healthy", "False", timeout=30)
    healthy = condition(unhealthy, "Healthy")
    assert healthy["reason"] == "ModuleFailing"
    assert healthy["message"].startswith("6 of its last 6 calls failed in the WASM host")
    assert "unreachable" in healthy["message"]
    assert unhealthy["status"]["phase"] == "Active"  # it keeps serving: a tenant's call to make
    # and what it used, recorded for the API's resources (the same round's judgement)
    used = await query(
        service_env,
        "SELECT isolation, usage FROM module_usage WHERE installation_uid = $1::uuid",
        unhealthy["metadata"]["uid"],
    )
    assert used[0]["isolation"] == "wasm"
    assert (used[0]["usage"]["calls"], used[0]["usage"]["failures"]) == (6, 6)


async def test_an_install_while_the_host_is_down_and_the_worker_is_killed_loses_nothing(
    *,
    kubectl: Kubectl,
    stack: StackInfo,
    unique: str,
    tmp_path: Path,
    worker: ServiceProcess,
    wasm_host: ServiceProcess,
    service_env: dict[str, str],
) -> None:
    module_id = f"echo-{unique}"
    publish_echo(kubectl, stack, tmp_path, module_id)
    wasm_host.kill()
    logged = len(worker.log())
    try:
        kubectl.apply(installation_doc("echo", module_id))
        uid = kubectl.wait_for(lambda: kubectl.json("get", "mi", "echo")["metadata"].get("uid"))

        def provision_retried() -> bool:
            failed = worker.log()[logged:].count("StepError: the WASM host at")
            return failed >= 2

        # the moment of the kills: provision wrote its rows, could not reach the host, and
        # is being retried (the worker's log has each failed attempt)
        kubectl.wait_for(provision_retried, timeout=60)
        assert "cannot be reached" in worker.log()[logged:]
        worker.kill()
    finally:
        wasm_host.start()
    worker.start()
    mi = wait_phase(kubectl, "mi/echo", "Active", timeout=120)
    assert mi["metadata"]["uid"] == uid
    # the worker that finished the install counted it once (replays count nothing: see
    # tests/unit/test_replay_recorded.py)
    installed = {"module": module_id, "outcome": "succeeded"}
    kubectl.wait_for(lambda: worker.sample("module_installations_total", **installed), 10)
    assert worker.sample("module_installations_total", **installed) == 1
    # the worker's JSON log names the installation and the workflow of what it did for it
    calls = [
        line
        for line in json_lines(worker.log()[logged:])
        if f"/admin/v1/installations/{kubectl.namespace}/echo" in line["message"]
    ]
    assert calls
    assert {(line["uid"], line["workflow_id"]) for line in calls} == {
        (uid, f"mi/{kubectl.namespace}/echo/{uid}/g1")
    }
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{mi['status']['endpoints'][0]['url']}/greet", json={"a": 1})
    assert answer.json() == {"function": "greet", "input": {"a": 1}}
    connection = await asyncpg.connect(
        service_env["ADX_DATABASE_URL"],
        server_settings={"search_path": service_env["ADX_DATABASE_SCHEMA_NAME"]},
    )
    try:
        rows = await connection.fetch(
            "SELECT i.uid::text AS uid, r.revision FROM wasm_installations i JOIN wasm_revisions r "
            "USING (namespace, name) WHERE i.namespace = $1",
            kubectl.namespace,
        )
    finally:
        await connection.close()
    assert [(row["uid"], row["revision"]) for row in rows] == [(uid, 1)]
    kubectl("delete", "mi", "echo", "--timeout=90s")


@pytest.mark.parametrize("point", ["provision:before", "provision:after", "activate:after"])
async def test_a_crash_around_registering_with_the_host_loses_and_duplicates_nothing(
    *,
    kubectl: Kubectl,
    stack: StackInfo,
    unique: str,
    tmp_path: Path,
    point: str,
    worker: ServiceProcess,
    wasm_host: ServiceProcess,
    service_env: dict[str, str],
) -> None:
    """The worker dies just before or just after the host learns of the installation (and
    after it is activated there): the retry registers it once, at revision 1, and it serves."""
    module_id = f"echo-{unique}"
    publish_echo(kubectl, stack, tmp_path, module_id)
    with worker.crashing_at(point, f"mi/{kubectl.namespace}/") as crash:
        kubectl.apply(installation_doc("echo", module_id))
    mi = wait_phase(kubectl, "mi/echo", "Active", timeout=120)
    uid = mi["metadata"]["uid"]
    assert crash.workflow_id == f"mi/{kubectl.namespace}/echo/{uid}/g1"
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{mi['status']['endpoints'][0]['url']}/greet", json={"a": 1})
        hosted = await http.get(
            f"{service_env['ADX_WASM_ADMIN_URL']}/admin/v1/installations",
            headers={"Authorization": f"Bearer {service_env['ADX_WASM_ADMIN_TOKEN']}"},
        )
    assert answer.json() == {"function": "greet", "input": {"a": 1}}
    ours = [h for h in hosted.json() if h["namespace"] == kubectl.namespace]
    assert [(h["name"], h["servingRevision"], h["active"]) for h in ours] == [("echo", 1, True)]
    rows = await query(
        service_env,
        "SELECT i.uid::text AS uid, r.revision FROM wasm_installations i JOIN wasm_revisions r "
        "USING (namespace, name) WHERE i.namespace = $1",
        kubectl.namespace,
    )
    assert [(row["uid"], row["revision"]) for row in rows] == [(uid, 1)]
