"""The HTTP API's update and uninstall: a module's version changed through the API (its data
backed up first, its configuration kept or replaced), and uninstalled with its data kept for the
next installation of the name — which finds it — or removed.

A Python module (the SDK probe, with storage and a table of its own) runs in the module runner;
real apiserver (impersonation, RBAC), Temporal, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import manifest_for
from support.database import query
from support.kube import Kubectl
from support.objects import API_VERSION, installation_doc, wait_phase
from support.sdk_guests import probe
from support.stack import StackInfo
from support.tenants import Tenant, problem_of

pytestmark = pytest.mark.usefixtures("operator", "worker", "runner", "api")
PERMISSIONS = ["storage:write:notes/*"]


def publish_probe(kubectl: Kubectl, registry: str, tmp: Path, module_id: str, version: str) -> None:
    directory = tmp / version
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "module.py").write_text(probe(version))
    (directory / "migrations").mkdir()
    (directory / "migrations" / "001_notes.sql").write_text("CREATE TABLE notes (body text);")
    manifest = {**manifest_for(module_id, "python"), "version": version}
    manifest["permissions"] = PERMISSIONS
    manifest["configSchema"]["properties"]["shelf"] = {"type": "integer"}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    built = build(directory / "manifest.json", directory / "probe.adx")
    published = publish(built.path, registry, insecure=True)
    kubectl.apply({**published.module, "apiVersion": API_VERSION})
    name = published.module["metadata"]["name"]
    kubectl("wait", f"module/{name}", "--for=condition=Ready", "--timeout=60s")


def rows_of(env: dict[str, str], sql: str, *args: Any) -> list[dict[str, Any]]:
    return asyncio.run(query(env, sql, *args))


def finished(http: httpx.Client, api_url: str, answer: dict[str, Any], tenant: Tenant) -> Any:
    """The operation's state once it no longer runs: it must have succeeded."""
    url = api_url.removesuffix("/api/v1") + answer["status_url"]
    deadline = time.monotonic() + 180
    state = http.get(url, headers=tenant.headers).json()
    while state.get("state") == "running" and time.monotonic() < deadline:
        time.sleep(1)
        state = http.get(url, headers=tenant.headers).json()
    assert state.get("state") == "succeeded", json.dumps(state)
    return state


def endpoint(kubectl: Kubectl, name: str) -> str:
    url: str = wait_phase(kubectl, f"mi/{name}", "Active", timeout=180)["status"]["endpoints"][0][
        "url"
    ]
    return url


def test_update_and_uninstall_through_the_api_keep_or_remove_the_modules_data(
    *,
    kubectl: Kubectl,
    stack: StackInfo,
    service_env: dict[str, str],
    namespace: str,
    other_namespace: str,
    api_url: str,
    unique: str,
    tmp_path: Path,
) -> None:
    module_id = f"keeper-{unique}"
    for version in ("1.0.0", "1.1.0"):
        publish_probe(kubectl, stack.env["ADX_REGISTRY_ADDRESS"], tmp_path, module_id, version)
    alice = Tenant(kubectl, namespace, reads_catalog=False)
    bob = Tenant(kubectl, other_namespace, reads_catalog=False)
    http = httpx.Client(timeout=30)
    instance = f"{namespace}:notes"
    order = {
        "tenant_id": namespace,
        "module_id": module_id,
        "name": "notes",
        "version": "1.0.0",
        "isolation": "process",
        "configuration": {"greeting": "hi", "shelf": 1},
        "approved_permissions": PERMISSIONS,
    }
    installed = http.post(f"{api_url}/modules/install", json=order, headers=alice.headers)
    assert installed.status_code == 202, installed.text
    finished(http, api_url, installed.json(), alice)
    url = endpoint(kubectl, "notes")
    stored = http.post(f"{url}/storage", json={"key": "notes/a", "value": 41})
    assert stored.status_code == 200, stored.text
    noted = http.post(f"{url}/db", json={"sql": "INSERT INTO notes VALUES ('kept')"})
    assert noted.status_code == 200, noted.text

    # what it uses, as the module runner measured its process
    resources = f"{api_url}/modules/{instance}/resources"
    used = http.get(resources, headers=alice.headers).json()
    deadline = time.monotonic() + 60
    while not (used.get("usage") or {}).get("serving") and time.monotonic() < deadline:
        time.sleep(1)
        used = http.get(resources, headers=alice.headers).json()
    assert (used["isolation"], used["source"]) == ("process", "the module runner"), used
    assert used["usage"]["memory_bytes"] > 10 * 2**20  # a Python interpreter's resident set
    assert used["usage"]["cpu_seconds"] > 0
    assert "may not get moduleinstallations" in problem_of(
        http.get(resources, headers=bob.headers), 403
    )

    # another tenant may neither update nor uninstall it
    change = {"target_version": "1.1.0", "backup_current": True}
    for answer in (
        http.put(f"{api_url}/modules/{instance}/update", json=change, headers=bob.headers),
        http.delete(f"{api_url}/modules/{instance}/uninstall", headers=bob.headers),
    ):
        assert f"in namespace {namespace}" in problem_of(answer, 403)
    # nor through kubectl, with its own token (the same RBAC decides)
    intruder = bob.kubectl
    for attempt in (
        ("get", "mi", "notes"),
        ("patch", "mi", "notes", "--type=merge", "-p", '{"spec": {"version": "1.1.0"}}'),
        ("delete", "mi", "notes", "--wait=false"),
        ("create", "-f", "-"),
    ):
        stdin = (
            json.dumps(installation_doc("sneaky", module_id)) if attempt[0] == "create" else None
        )
        refused = intruder("--namespace", namespace, *attempt, stdin=stdin, check=False)
        assert refused.returncode != 0, attempt
        assert "forbidden" in refused.stderr.lower(), refused.stderr
    assert alice.kubectl("--namespace", namespace, "get", "mi", "notes").returncode == 0
    assert "target_version" in problem_of(
        http.put(f"{api_url}/modules/{instance}/update", json={}, headers=alice.headers), 400
    )

    # update: the data backed up first, the configuration kept and merged
    change["configuration"] = {"greeting": "hello again"}
    updated = http.put(f"{api_url}/modules/{instance}/update", json=change, headers=alice.headers)
    assert updated.status_code == 202, updated.text
    assert updated.json()["operation_id"] == f"{instance}:2"
    finished(http, api_url, updated.json(), alice)
    body = kubectl.json("get", "mi", "notes")
    assert body["status"]["installedVersion"] == "1.1.0"
    assert body["spec"]["configuration"] == {"greeting": "hello again", "shelf": 1}
    assert body["spec"]["update"]["backupData"] is True
    uid = body["metadata"]["uid"]
    backups = rows_of(service_env, "SELECT contents FROM backups WHERE installation_uid = $1", uid)
    assert len(backups) == 1  # taken before the rollout, of the running revision
    assert backups[0]["contents"]["version"] == "1.0.0"
    assert backups[0]["contents"]["moduleData"]["tables"]["notes"] == [{"body": "kept"}]
    # preserve_config false: the configuration is replaced
    replaced = http.put(
        f"{api_url}/modules/{instance}/update",
        json={"target_version": "1.1.0", "preserve_config": False, "configuration": {"shelf": 2}},
        headers=alice.headers,
    )
    finished(http, api_url, replaced.json(), alice)
    replaced_spec = kubectl.json("get", "mi", "notes")["spec"]
    assert replaced_spec["configuration"] == {"shelf": 2}
    assert replaced_spec["update"]["backupData"] is True  # not given: as the spec said

    # uninstall keeping the data: gone from the cluster, its data waits for the name
    kept = http.delete(
        f"{api_url}/modules/{instance}/uninstall",
        params={"cleanup_data": "false"},
        headers=alice.headers,
    )
    assert kept.status_code == 202, kept.text
    assert kept.json()["operation_id"] == f"{instance}:uninstall"
    done = finished(http, api_url, kept.json(), alice)
    assert (done["state"], done["phase"]) == ("succeeded", "Uninstalled"), done
    assert kubectl("get", "mi", "notes", check=False).returncode != 0
    again = http.post(  # the service's asynchronous form of the same install
        f"{api_url}/workflows/install-module",
        json={**order, "version": "1.1.0"},
        headers=alice.headers,
    )
    assert again.json()["type"] == "Asynchronous"
    finished(http, api_url, again.json(), alice)
    url = endpoint(kubectl, "notes")
    found = http.post(f"{url}/db", json={"sql": "SELECT body FROM notes"}).json()
    assert found == [{"body": "kept"}]  # the new installation took its table over
    new_uid = kubectl.json("get", "mi", "notes")["metadata"]["uid"]
    assert new_uid != uid
    storage = rows_of(
        service_env, "SELECT key FROM module_storage WHERE installation_uid = $1::uuid", new_uid
    )
    assert [row["key"] for row in storage] == ["notes/a"]

    # uninstall cleaning up (the default) after a backup: nothing of the module's data is left
    body_and_query = http.request(
        "DELETE",
        f"{api_url}/modules/{instance}/uninstall",
        json={"backup_data": True, "cleanup_data": True},
        params={"cleanup_data": "false"},
        headers=alice.headers,
    )
    assert "cleanup_data" in problem_of(body_and_query, 400)  # the two disagree
    removed = http.request(
        "DELETE",
        f"{api_url}/modules/{instance}/uninstall",
        json={"backup_data": True},
        headers=alice.headers,
    )
    assert removed.status_code == 202, removed.text
    finished(http, api_url, removed.json(), alice)
    backup = rows_of(
        service_env,
        "SELECT contents FROM backups WHERE installation_uid = $1 ORDER BY taken_at DESC",
        new_uid,
    )
    assert backup[0]["contents"]["moduleData"]["tables"]["notes"] == [{"body": "kept"}]
    for table in ("module_storage", "module_settings", "module_databases", "module_usage"):
        left = rows_of(
            service_env,
            f"SELECT 1 FROM {table} WHERE installation_uid = ANY($1::uuid[])",  # noqa: S608
            [uid, new_uid],
        )
        assert left == [], table
    assert rows_of(service_env, "SELECT 1 FROM kept_module_data WHERE name = 'notes'") == []
    schemas = rows_of(
        service_env,
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = $1",
        "mod_" + uid.replace("-", ""),
    )
    assert schemas == []
