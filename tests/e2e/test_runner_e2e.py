"""A Python module's whole life through the operator, the worker and the module runner, as an
author and a tenant meet it: scaffolded with ``adx-module-cli init``, packaged (its routes read
from its code into the manifest), published to the registry, installed with ``isolation:
process`` by ``kubectl apply``, called at the endpoint its status shows, updated (the new code
serves, the old process is gone) and uninstalled (no process, no row, no storage left)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import manifest_for
from adx_modules.service.cli import author_main
from support import guests
from support.database import query
from support.kube import Kubectl
from support.objects import API_VERSION, condition, installation_doc, wait_condition, wait_phase
from support.sdk_guests import probe
from support.stack import StackInfo

pytestmark = pytest.mark.usefixtures("operator", "worker", "runner", "wasm_host")


def publish_python(
    kubectl: Kubectl, registry: str, directory: Path, module_id: str, *, greeting: str
) -> dict[str, Any]:
    """``adx-module-cli init`` a module, change its greeting, package, publish, apply."""
    version = directory.name
    assert author_main(["init", module_id, "--dir", str(directory)]) == 0
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.update(version=version, permissions=[f"storage:write:{module_id}/*"])
    (directory / "manifest.json").write_text(json.dumps(manifest))
    code = directory / "src" / "module.py"
    code.write_text(code.read_text().replace('"hello"', json.dumps(greeting)))
    package = build(directory / "manifest.json", directory / f"{module_id}.adx")
    published = publish(package.path, registry, insecure=True)
    assert published.module["spec"]["extensionPoints"] == {
        "api": [{"path": "/greet", "methods": ["GET", "POST"]}]
    }
    name = published.module["metadata"]["name"]
    kubectl.apply({**published.module, "apiVersion": API_VERSION})
    kubectl("wait", f"module/{name}", "--for=condition=Ready", "--timeout=60s")
    return published.module


async def finished_run(client: httpx.AsyncClient, endpoint: str, run_id: str) -> dict[str, Any]:
    """The state of a module workflow run once it is no longer running."""
    state: dict[str, Any] = {}
    for _ in range(120):
        state = (await client.get(f"{endpoint}/jobs/status", params={"id": run_id})).json()
        if state["status"] != "RUNNING":
            return state
        await asyncio.sleep(0.5)
    raise AssertionError(f"{run_id} still running: {state}")


async def install_echo(kubectl: Kubectl, stack: StackInfo, unique: str, tmp_path: Path) -> None:
    """A WASM module whose function ``echo`` answers its input, installed as ``echo``."""
    module_id = f"echo-{unique}"
    manifest = {
        **manifest_for(module_id, "wasm"),
        "permissions": [],
        "extensionPoints": {"workflows": ["echo"]},
        "resources": {"limits": {"cpu": "200m", "memory": "32Mi"}},
    }
    (tmp_path / "echo.json").write_text(json.dumps(manifest))
    (tmp_path / "echo.wasm").write_bytes(guests.binary(guests.ECHO))
    published = publish(
        tmp_path / "echo.wasm",
        stack.env["ADX_REGISTRY_ADDRESS"],
        insecure=True,
        manifest=tmp_path / "echo.json",
    )
    kubectl.apply({**published.module, "apiVersion": API_VERSION})
    kubectl("wait", f"module/{published.module['metadata']['name']}", "--for=condition=Ready")
    kubectl.apply(installation_doc("echo", module_id))
    wait_phase(kubectl, "mi/echo", "Active", timeout=120)


async def rows(env: dict[str, str], namespace: str) -> int:
    found = await query(
        env, "SELECT count(*) AS n FROM runner_installations WHERE namespace = $1", namespace
    )
    return int(found[0]["n"])


async def test_scaffold_publish_install_call_update_uninstall(  # noqa: PLR0917
    kubectl: Kubectl,
    namespace: str,
    stack: StackInfo,
    service_env: dict[str, str],
    unique: str,
    tmp_path: Path,
) -> None:
    registry = stack.env["ADX_REGISTRY_ADDRESS"]
    module_id = f"hello-{unique}"
    publish_python(kubectl, registry, tmp_path / "1.0.0", module_id, greeting="hello")
    publish_python(kubectl, registry, tmp_path / "1.1.0", module_id, greeting="bonjour")
    kubectl.apply(
        installation_doc(
            "hello",
            module_id,
            version="1.0.0",
            isolation="process",
            approvedPermissions=[f"storage:write:{module_id}/*"],
        )
    )
    mi = wait_phase(kubectl, "mi/hello", "Active", timeout=120)
    assert mi["status"]["isolation"] == "process"
    endpoint = mi["status"]["endpoints"][0]["url"]
    assert endpoint == (
        f"{service_env['ADX_RUNNER_INVOKE_URL']}/v1/tenants/{namespace}/installations/hello/api"
    )
    async with httpx.AsyncClient(timeout=30) as client:
        first = await client.post(f"{endpoint}/greet", json={"name": "Ada"})
        assert first.status_code == 200, first.text
        assert first.json() == {"message": "hello, Ada"}
        before = {p.pid for p in psutil.process_iter(["cmdline"]) if _module_process(p)}

        kubectl("patch", "mi", "hello", "--type=merge", "-p", '{"spec":{"version":"1.1.0"}}')

        def updated() -> dict[str, Any] | None:
            obj: dict[str, Any] = kubectl.json("get", "mi", "hello")
            status = obj.get("status", {})
            done = status.get("installedVersion") == "1.1.0" and status.get("phase") == "Active"
            return obj if done else None

        kubectl.wait_for(updated, 120)
        second = await client.post(f"{endpoint}/greet", json={"name": "Ada"})
        assert second.json() == {"message": "bonjour, Ada"}
        after = {p.pid for p in psutil.process_iter(["cmdline"]) if _module_process(p)}
        assert before
        assert after
        assert not before & after  # the old process is gone

        kubectl("delete", "mi", "hello", "--timeout=120s")
        gone = await client.post(f"{endpoint}/greet", json={})
    assert gone.status_code == 404
    assert not [p for p in after if psutil.pid_exists(p)]
    assert await rows(service_env, namespace) == 0


def _module_process(process: psutil.Process) -> bool:
    return "adx_module_sdk.process" in " ".join(process.info.get("cmdline") or [])


SHOP = [
    "storage:write:notes/*",
    "event:publish:orders.*",
    "workflow:execute:tally",
    "workflow:execute:flaky",
    "workflow:execute:echo",
]
AUDIT = ["storage:write:notes/*", "event:subscribe:orders.*"]


async def test_modules_talk_through_events_and_run_durable_workflows(
    kubectl: Kubectl,
    stack: StackInfo,
    service_env: dict[str, str],
    unique: str,
    tmp_path: Path,
) -> None:
    for role, permissions in (("shop", SHOP), ("audit", AUDIT)):
        module_id = f"{role}-{unique}"  # the same code, published as two modules
        directory = tmp_path / role
        (directory / "src").mkdir(parents=True)
        (directory / "src" / "module.py").write_text(probe())
        (directory / "migrations").mkdir()
        (directory / "migrations" / "001_notes.sql").write_text("CREATE TABLE notes (body text);")
        manifest = {**manifest_for(module_id, "python"), "permissions": permissions}
        (directory / "manifest.json").write_text(json.dumps(manifest))
        built = build(directory / "manifest.json", directory / f"{role}.adx")
        published = publish(built.path, stack.env["ADX_REGISTRY_ADDRESS"], insecure=True)
        points = published.module["spec"]["extensionPoints"]
        assert set(points["workflows"]) == {"flaky", "tally", "typed"}
        kubectl.apply({**published.module, "apiVersion": API_VERSION})
        name = published.module["metadata"]["name"]
        kubectl("wait", f"module/{name}", "--for=condition=Ready", "--timeout=60s")
        kubectl.apply(
            installation_doc(
                role,
                module_id,
                isolation="process",
                approvedPermissions=permissions,
                uninstall={"backupData": True},
            )
        )
    shop = wait_phase(kubectl, "mi/shop", "Active", timeout=120)["status"]["endpoints"][0]["url"]
    audit = wait_phase(kubectl, "mi/audit", "Active", timeout=120)["status"]["endpoints"][0]["url"]
    async with httpx.AsyncClient(timeout=30) as client:
        emitted = await client.post(f"{shop}/emit", json={"topic": "orders.created", "payload": 7})
        assert emitted.status_code == 200, emitted.text
        seen: list[dict[str, Any]] = []
        for _ in range(60):
            seen = (await client.get(f"{audit}/seen")).json()
            if seen:
                break
            await asyncio.sleep(0.5)
        assert [(e["topic"], e["payload"], e["source"]) for e in seen] == [
            ("orders.created", 7, "shop")
        ]

        tally = (
            await client.post(
                f"{shop}/jobs", json={"name": "tally", "input": {"items": [1, 2, 3]}, "key": "t1"}
            )
        ).json()
        again = (
            await client.post(
                f"{shop}/jobs", json={"name": "tally", "input": {"items": []}, "key": "t1"}
            )
        ).json()
        assert again == tally  # the same key: the same run, not a second one
        assert await finished_run(client, shop, tally["id"]) == {
            "id": tally["id"],
            "status": "COMPLETED",
            "result": {"items": 3},
        }
        flaky = (await client.post(f"{shop}/jobs", json={"name": "flaky"})).json()
        assert (await finished_run(client, shop, flaky["id"]))["result"] == {
            "tries": 2
        }  # retried once, as declared
        denied = await client.post(f"{audit}/jobs", json={"name": "tally", "input": {"items": []}})
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            "needs the permission workflow:execute:tally, which is not approved"
        )
    # a workflow whose step is a WASM module's function, in the WASM host
    await install_echo(kubectl, stack, unique, tmp_path)
    async with httpx.AsyncClient(timeout=30) as client:
        echoed = await client.post(
            f"{shop}/jobs", json={"name": "echo", "input": {"n": 1}, "installation": "echo"}
        )
        state = await finished_run(client, shop, echoed.json()["id"])
    assert state["status"] == "COMPLETED", state
    assert state["result"] == {"function": "echo", "input": {"n": 1}}
    async with httpx.AsyncClient(timeout=30) as client:
        noted = await client.post(
            f"{shop}/db", json={"sql": "INSERT INTO notes VALUES ($1)", "params": ["kept"]}
        )
        assert noted.status_code == 200, noted.text
    # uninstalled with backupData: the module's own data is kept in the backup, then removed
    uid = kubectl.json("get", "mi", "shop")["metadata"]["uid"]
    kubectl("delete", "mi", "shop", "--timeout=120s")
    backups = await query(
        service_env, "SELECT contents FROM backups WHERE installation_uid = $1", uid
    )
    kept = backups[0]["contents"]["moduleData"]["storage"]
    assert json.loads(base64.b64decode(kept["notes/flaky"])) == 2  # what the workflow stored
    tables = backups[0]["contents"]["moduleData"]["tables"]
    assert tables["notes"] == [{"body": "kept"}]  # and which migrations made them:
    assert [m["name"] for m in tables["adx_migrations"]] == ["001_notes.sql"]
    left = await query(
        service_env, "SELECT key FROM module_storage WHERE installation_uid = $1::uuid", uid
    )
    assert left == []
    schema = await query(
        service_env,
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = $1",
        "mod_" + uid.replace("-", ""),
    )
    assert schema == []  # its own tables went with it


async def test_a_module_whose_process_keeps_ending_is_reported_unhealthy_on_its_installation(
    kubectl: Kubectl, stack: StackInfo, unique: str, tmp_path: Path
) -> None:
    module_id = f"crashy-{unique}"
    directory = tmp_path / "crashy"
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "module.py").write_text(probe())
    (directory / "manifest.json").write_text(json.dumps(manifest_for(module_id, "python")))
    built = build(directory / "manifest.json", directory / "crashy.adx")
    published = publish(built.path, stack.env["ADX_REGISTRY_ADDRESS"], insecure=True)
    kubectl.apply({**published.module, "apiVersion": API_VERSION})
    kubectl("wait", f"module/{published.module['metadata']['name']}", "--for=condition=Ready")
    permissions = published.module["spec"]["permissions"]
    kubectl.apply(
        installation_doc("crashy", module_id, isolation="process", approvedPermissions=permissions)
    )
    mi = wait_phase(kubectl, "mi/crashy", "Active", timeout=120)
    assert condition(mi, "Healthy")["status"] == "True"
    endpoint = mi["status"]["endpoints"][0]["url"]
    async with httpx.AsyncClient(timeout=30) as client:
        crashed = await client.post(f"{endpoint}/crash")
    assert crashed.status_code == 502
    assert crashed.json()["reason"] == "ModuleCrashed"
    failing = wait_condition(kubectl, "mi/crashy", "Healthy", "False", timeout=60)
    healthy = condition(failing, "Healthy")
    assert healthy["reason"] == "ModuleFailing"
    assert "its process ended 1 time(s)" in healthy["message"]
    assert "exit status 3" in healthy["message"]
    assert failing["status"]["phase"] == "Active"  # it serves on: started again
