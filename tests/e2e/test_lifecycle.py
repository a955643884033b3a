"""The lifecycle end to end: kubectl apply -> a running, locked-down module; update, rollback,
uninstall; failures undone; crashes of the worker or the operator survived.

Real cluster (kwok nodes), real Temporal, real PostgreSQL; the operator and the worker run as
``adx-module-service operator|worker``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from adx_modules.clients import temporal
from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase
from support.operator import ServiceProcess

pytestmark = pytest.mark.usefixtures("operator", "worker")

SCHEMA = {
    "type": "object",
    "properties": {
        "greeting": {"type": "string"},
        "apiToken": {"type": "string", "writeOnly": True},
    },
}
PERMISSIONS = [
    "database:read:user_data",
    "network:access:10.20.0.0/16:5432",
    "network:access:api.example.com",
]


@pytest.fixture
def module_id(kubectl: Kubectl, unique: str) -> Iterator[str]:
    """A module of this test's own at 1.0.0 (with an API, permissions and a configSchema)."""
    name = f"life-{unique}"
    kubectl.apply(
        module_doc(
            name,
            "1.0.0",
            permissions=PERMISSIONS,
            configSchema=SCHEMA,
            resources={
                "requests": {"cpu": "20m", "memory": "32Mi"},
                "limits": {"cpu": "200m", "memory": "64Mi"},
            },
            extensionPoints={"api": [{"path": "/life", "port": 8080}]},
        )
    )
    wait_condition(kubectl, f"module/{name}-1-0-0", "Ready")
    yield name
    for module in kubectl.json("get", "modules")["items"]:
        if module["spec"]["moduleId"] == name:
            kubectl("delete", "module", module["metadata"]["name"], "--wait=false", check=False)


def publish(kubectl: Kubectl, module_id: str, version: str, image: str | None = None) -> None:
    extra: dict[str, Any] = {"permissions": PERMISSIONS, "configSchema": SCHEMA}
    if image:
        extra["artifact"] = {"image": {"reference": image}}
    kubectl.apply(module_doc(module_id, version, **extra))
    wait_condition(kubectl, f"module/{module_id}-{version.replace('.', '-')}", "Ready")


def install(kubectl: Kubectl, module_id: str, **spec: Any) -> None:
    spec.setdefault("approvedPermissions", PERMISSIONS)
    spec.setdefault("configuration", {"greeting": "hello"})
    kubectl.apply(installation_doc("life", module_id, **spec))


async def rows(service_env: dict[str, str], query: str, *args: Any) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(
        service_env["ADX_DATABASE_URL"],
        server_settings={"search_path": service_env["ADX_DATABASE_SCHEMA_NAME"]},
    )
    try:
        return [dict(r) for r in await connection.fetch(query, *args)]
    finally:
        await connection.close()


async def test_install_provisions_a_locked_down_module_in_a_restricted_namespace(
    kubectl: Kubectl, namespace: str, module_id: str, service_env: dict[str, str]
) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    # a secret value never goes in the spec: it is refused there, and read from the tenant's Secret
    install(kubectl, module_id, configuration={"greeting": "hello", "apiToken": "s3cret"})
    refused = wait_condition(kubectl, "mi/life", "Stalled")
    assert "spec.configuration.apiToken: a secret value" in refused["status"]["message"]
    kubectl("create", "secret", "generic", "life-secrets", "--from-literal=apiToken=s3cret")
    install(kubectl, module_id, configurationSecretRef={"name": "life-secrets"})
    seen_phases = set()

    def active() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "mi", "life")
        status = obj.get("status", {})
        seen_phases.add(status.get("phase"))
        if status.get("workflow"):
            assert 0 <= status["workflow"]["progress"] <= 100
            assert status["workflow"]["id"].endswith("/g2")  # generation 1 was refused
        return obj if status.get("phase") == "Active" else None

    mi = kubectl.wait_for(active, timeout=120, interval=0.2)
    assert condition(mi, "Ready")["status"] == "True"
    assert condition(mi, "Installed")["message"] == "revision 1 runs 1.0.0"
    assert mi["status"]["installedVersion"] == "1.0.0"
    assert "workflow" not in mi["status"]
    assert mi["status"]["endpoints"] == [
        {"name": "life", "url": f"http://mod-life.{namespace}.svc:8080/life"}
    ]
    assert [h["revision"] for h in mi["status"]["history"]] == [1]
    uid = mi["metadata"]["uid"]
    owner = {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "ModuleInstallation",
        "name": "life",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }

    account = kubectl.json("get", "serviceaccount", "mod-life")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["ownerReferences"] == [owner]
    labels = account["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == module_id
    assert labels["app.kubernetes.io/version"] == "1.0.0"
    assert labels["modules.adxcore.com/tenant"] == namespace
    assert labels["app.kubernetes.io/managed-by"] == "adx-module-operator"

    config = kubectl.json("get", "configmap", "mod-life-config")
    assert config["data"]["config.json"] == '{\n  "greeting": "hello"\n}'
    assert config["data"]["allowed-hosts"] == "api.example.com"
    assert (
        kubectl.json("get", "secrets", "-l", "modules.adxcore.com/installation=life")["items"] == []
    )

    deployment = kubectl.json("get", "deployment", "mod-life")
    assert deployment["metadata"]["ownerReferences"] == [owner]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "mod-life"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "life-secrets"  # the tenant's own
    main = pod["containers"][0]
    assert main["image"] == f"registry.local/{module_id}:1.0.0"
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsGroup": 65532,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert main["resources"] == {
        "requests": {"cpu": "20m", "memory": "32Mi"},
        "limits": {"cpu": "200m", "memory": "64Mi"},
    }
    pods = kubectl.json("get", "pods", "-l", "modules.adxcore.com/installation=life")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]  # admitted under "restricted"

    service = kubectl.json("get", "service", "mod-life")
    assert service["metadata"]["labels"]["modules.adxcore.com/active"] == "true"  # activated
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8080, 8080)]
    policy = kubectl.json("get", "networkpolicy", "mod-life")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"] == {"matchLabels": {"modules.adxcore.com/installation": "life"}}
    egress = policy["egress"]
    assert egress[0]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert egress[1] == {
        "to": [{"namespaceSelector": {"matchLabels": {"adxcore.com/platform": "true"}}}]
    }
    assert egress[2] == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }
    assert len(egress) == 3  # api.example.com is a host name: not expressible, see the annotation
    assert policy["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]

    installations = await rows(service_env, "SELECT * FROM installations WHERE uid = $1", uid)
    assert [(r["phase"], r["version"], r["revision"]) for r in installations] == [
        ("Active", "1.0.0", 1)
    ]
    revisions = await rows(
        service_env, "SELECT revision, version FROM revisions WHERE installation_uid = $1", uid
    )
    assert [(r["revision"], r["version"]) for r in revisions] == [(1, "1.0.0")]
    audit = await rows(
        service_env,
        "SELECT step, outcome, actor FROM audit_events WHERE installation_uid = $1 ORDER BY id",
        uid,
    )
    steps = [(a["step"], a["outcome"]) for a in audit]
    assert steps == [
        ("resolve", "succeeded"),
        ("provision-r1", "succeeded"),
        ("wait-healthy-r1", "succeeded"),
        ("install", "succeeded"),
    ]
    assert {a["actor"] for a in audit} == {"kubectl"}

    events = kubectl.json("get", "events", "--field-selector=involvedObject.name=life")["items"]
    reasons = [
        e["reason"] for e in sorted(events, key=lambda e: e["metadata"]["creationTimestamp"])
    ]
    assert {"Installing", "Succeeded"} <= set(reasons), reasons  # the phases it went through


def test_unapproved_permissions_wait_then_approval_installs(
    kubectl: Kubectl, module_id: str
) -> None:
    install(kubectl, module_id, approvedPermissions=PERMISSIONS[:1])
    waiting = wait_phase(kubectl, "mi/life", "AwaitingApproval")
    assert condition(waiting, "Stalled")["reason"] == "Blocked"
    assert "api.example.com" in condition(waiting, "PermissionsApproved")["message"]
    assert "NotFound" in kubectl("get", "deployment", "mod-life", check=False).stderr

    kubectl(
        "patch",
        "mi",
        "life",
        "--type=merge",
        "-p",
        '{"spec":{"approvedPermissions":' + str(PERMISSIONS).replace("'", '"') + "}}",
    )
    active = wait_phase(kubectl, "mi/life", "Active")
    assert condition(active, "PermissionsApproved")["status"] == "True"
    assert condition(active, "Ready")["observedGeneration"] == 2


def _ready_replicas(kubectl: Kubectl) -> int:
    status = kubectl.json("get", "deployment", "mod-life").get("status", {})
    return int(status.get("readyReplicas", 0))


def test_a_suspended_installation_changes_nothing_until_resumed(
    kubectl: Kubectl, module_id: str
) -> None:
    install(kubectl, module_id, suspend=True)
    suspended = kubectl.wait_for(
        lambda: (o := kubectl.json("get", "mi", "life")).get("status", {}).get("message") and o
    )
    assert suspended["status"]["message"].startswith("suspended")
    assert "NotFound" in kubectl("get", "deployment", "mod-life", check=False).stderr
    kubectl("patch", "mi", "life", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_phase(kubectl, "mi/life", "Active")


def test_an_update_rolls_out_a_new_revision(kubectl: Kubectl, module_id: str) -> None:
    install(kubectl, module_id)
    wait_phase(kubectl, "mi/life", "Active")
    before = kubectl.json("get", "deployment", "mod-life")["spec"]["template"]["metadata"]

    publish(kubectl, module_id, "1.1.0")
    kubectl(
        "patch",
        "mi",
        "life",
        "--type=merge",
        "-p",
        '{"spec":{"version":"^1.1","configuration":{"greeting":"hi"}}}',
    )
    updated = kubectl.wait_for(
        lambda: (
            (o := kubectl.json("get", "mi", "life"))["status"].get("installedVersion") == "1.1.0"
            and o["status"].get("phase") == "Active"
            and o
        ),
        timeout=120,
    )
    assert [h["version"] for h in updated["status"]["history"]] == ["1.0.0", "1.1.0"]
    assert condition(updated, "Ready")["status"] == "True"
    after = kubectl.json("get", "deployment", "mod-life")["spec"]["template"]["metadata"]
    assert after["labels"]["app.kubernetes.io/version"] == "1.1.0"
    hash_key = "modules.adxcore.com/configuration-hash"
    assert after["annotations"][hash_key] != before["annotations"][hash_key]
    config = kubectl.json("get", "configmap", "mod-life-config")["data"]["config.json"]
    assert '"greeting": "hi"' in config


async def test_an_update_that_never_gets_ready_is_rolled_back(
    kubectl: Kubectl, module_id: str, service_env: dict[str, str], worker: ServiceProcess
) -> None:
    install(kubectl, module_id)
    wait_phase(kubectl, "mi/life", "Active")
    rolled_back_runs = {"workflow": "UpdateModuleWorkflow", "outcome": "rolled_back"}
    rolled_back_before = worker.sample("workflow_executions_total", **rolled_back_runs)
    # kwok's "pod-never-ready" stage: pods of this image start but never become ready
    publish(kubectl, module_id, "2.0.0", image=f"never-ready.adx.test/{module_id}:2.0.0")
    kubectl(
        "patch",
        "mi",
        "life",
        "--type=merge",
        "-p",
        '{"spec":{"version":"^2.0","update":{"healthTimeoutSeconds":15}}}',
    )

    ready_samples = []

    def rolled_back() -> dict[str, Any] | None:
        ready_samples.append(_ready_replicas(kubectl))
        obj: dict[str, Any] = kubectl.json("get", "mi", "life")
        return obj if condition(obj, "Remediated").get("status") == "True" else None

    mi = kubectl.wait_for(rolled_back, timeout=150, interval=0.5)
    assert min(ready_samples) >= 1, "the old revision stopped serving during the update"
    assert condition(mi, "Remediated")["reason"] == "RollbackSucceeded"
    assert condition(mi, "Stalled")["reason"] == "HealthCheckFailed"
    kubectl.wait_for(
        lambda: (
            worker.sample("workflow_executions_total", **rolled_back_runs) == rolled_back_before + 1
        ),
        timeout=10,
    )
    assert "CrashLoopBackOff" in mi["status"]["message"]
    assert mi["status"]["installedVersion"] == "1.0.0"
    assert mi["status"]["phase"] == "Active"
    assert mi["status"]["failures"] == {
        "consecutive": 1,
        "total": 1,
        "lastWorkflow": f"mi/{kubectl.namespace}/life/{mi['metadata']['uid']}/g2",
    }
    deployment = kubectl.json("get", "deployment", "mod-life")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == f"registry.local/{module_id}:1.0.0"
    kubectl.wait_for(
        lambda: (
            _ready_replicas(kubectl) == 1
            and kubectl.json("get", "deployment", "mod-life")["status"].get("updatedReplicas") == 1
        )
    )


async def test_uninstall_removes_everything_and_the_object(
    kubectl: Kubectl, module_id: str, service_env: dict[str, str]
) -> None:
    install(kubectl, module_id, uninstall={"backupData": True})
    mi = wait_phase(kubectl, "mi/life", "Active")
    uid = mi["metadata"]["uid"]
    kubectl("delete", "mi", "life", "--timeout=90s")
    assert "NotFound" in kubectl("get", "mi", "life", check=False).stderr
    for kind in ("deployment", "service", "networkpolicy", "serviceaccount", "configmap"):
        leftovers = kubectl.json("get", kind, "-l", "modules.adxcore.com/installation=life")
        assert leftovers["items"] == [], kind
    assert kubectl.json("get", "pods", "-l", "modules.adxcore.com/installation=life")["items"] == []
    record = await rows(
        service_env, "SELECT phase, uninstalled_at FROM installations WHERE uid = $1", uid
    )
    assert record[0]["phase"] == "Uninstalled"
    assert record[0]["uninstalled_at"] is not None
    backups = await rows(
        service_env, "SELECT contents FROM backups WHERE installation_uid = $1", uid
    )
    assert len(backups) == 1


def test_a_failed_install_is_undone_and_an_edit_retries(kubectl: Kubectl, module_id: str) -> None:
    publish(kubectl, module_id, "3.0.0", image=f"never-ready.adx.test/{module_id}:3.0.0")
    install(kubectl, module_id, version="3.0.0", update={"healthTimeoutSeconds": 10})
    failed = wait_phase(kubectl, "mi/life", "Failed", timeout=120)
    assert condition(failed, "Stalled")["reason"] == "HealthCheckFailed"
    message = failed["status"]["message"]
    assert message.startswith("step provision failed: not healthy within 10s")
    assert "removed what it had created" in message
    for kind in ("deployment", "configmap", "serviceaccount", "networkpolicy"):
        assert (
            kubectl.json("get", kind, "-l", "modules.adxcore.com/installation=life")["items"] == []
        )

    kubectl("patch", "mi", "life", "--type=merge", "-p", '{"spec":{"version":"1.0.0"}}')
    active = wait_phase(kubectl, "mi/life", "Active", timeout=120)
    assert active["status"]["installedVersion"] == "1.0.0"
    assert active["status"]["failures"] == {
        "consecutive": 0,
        "total": 1,
        "lastWorkflow": f"mi/{kubectl.namespace}/life/{active['metadata']['uid']}/g2",
    }


def _count(kubectl: Kubectl, kind: str) -> int:
    return len(kubectl.json("get", kind, "-l", "modules.adxcore.com/installation=life")["items"])


@pytest.mark.parametrize("victim", ["worker", "operator"])
async def test_a_crash_in_the_middle_of_an_install_loses_and_duplicates_nothing(
    *,
    kubectl: Kubectl,
    module_id: str,
    victim: str,
    worker: ServiceProcess,
    operator: ServiceProcess,
    service_env: dict[str, str],
) -> None:
    process = {"worker": worker, "operator": operator}[victim]
    # pods of this image become Ready only after 8 s: the install is provably in flight
    publish(kubectl, module_id, "1.1.0", image=f"slow-ready.adx.test/{module_id}:1.1.0")
    install(kubectl, module_id, version="1.1.0")
    client = await temporal.connect(
        service_env["ADX_TEMPORAL_ADDRESS"], service_env["ADX_TEMPORAL_NAMESPACE"]
    )
    uid = kubectl.wait_for(lambda: kubectl.json("get", "mi", "life")["metadata"].get("uid"))
    handle = client.get_workflow_handle(f"mi/{kubectl.namespace}/life/{uid}/g1")
    in_flight: list[str] = []
    for _ in range(200):
        try:
            description = await handle.describe()
        except RPCError:  # not started yet
            await asyncio.sleep(0.1)
            continue
        assert description.status == WorkflowExecutionStatus.RUNNING
        in_flight = [a.activity_type.name for a in description.raw_description.pending_activities]
        if "wait_healthy" in in_flight:
            break
        await asyncio.sleep(0.1)
    # the moment of the kill: the workflow runs and its wait-healthy activity is in flight
    assert in_flight == ["wait_healthy"]
    assert kubectl.json("get", "mi", "life")["status"]["phase"] == "Installing"
    process.kill()
    await asyncio.sleep(1)
    process.start()
    mi = wait_phase(kubectl, "mi/life", "Active", timeout=180)
    assert mi["metadata"]["uid"] == uid
    await installed_once(kubectl, service_env, handle, mi)


async def installed_once(
    kubectl: Kubectl, service_env: dict[str, str], handle: WorkflowHandle[Any, Any], mi: Any
) -> None:
    """``mi`` (Active) was installed by exactly one workflow, which completed, and nothing of
    it exists twice: objects, revisions, status history, failure counts."""
    uid = mi["metadata"]["uid"]
    # Active is the workflow's last report; it completes (not fails) right after
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    mi = kubectl.json("get", "mi", mi["metadata"]["name"])  # as the finished workflow left it
    assert mi["metadata"]["uid"] == uid
    kinds = ("deployment", "replicaset", "pods", "configmap", "networkpolicy")
    assert [_count(kubectl, kind) for kind in kinds] == [1, 1, 1, 1, 1]
    revisions = await rows(
        service_env, "SELECT revision FROM revisions WHERE installation_uid = $1", uid
    )
    assert [r["revision"] for r in revisions] == [1]
    audit = await rows(
        service_env,
        "SELECT DISTINCT workflow_id FROM audit_events WHERE installation_uid = $1",
        uid,
    )
    assert [a["workflow_id"].rsplit("/", 1)[-1] for a in audit] == ["g1"]  # one workflow
    status = mi["status"]
    assert [entry["revision"] for entry in status.get("history") or []] == [1]
    assert (status.get("failures") or {}).get("total", 0) == 0


# every side effect of an install, crashed just before and just after (core/failpoints.py)
SIDE_EFFECTS = [
    "resolve:before",
    "provision:before",
    "provision:after",
    "report:before",
    "report:recorded",
    "report:after",
    "wait_healthy:after",
    "activate:after",
]


def crash_at(kubectl: Kubectl, worker: ServiceProcess, point: str, **spec: Any) -> str:
    """Install ``life`` with a worker that dies at ``point`` of its workflow; the workflow id."""
    with worker.crashing_at(point, f"mi/{kubectl.namespace}/") as crash:
        install(kubectl, spec.pop("module"), **spec)
    uid = kubectl.json("get", "mi", "life")["metadata"]["uid"]
    assert crash.workflow_id == f"mi/{kubectl.namespace}/life/{uid}/g1"
    return crash.workflow_id


@pytest.mark.parametrize("point", SIDE_EFFECTS)
async def test_a_crash_at_each_side_effect_of_an_install_loses_and_duplicates_nothing(
    *,
    kubectl: Kubectl,
    module_id: str,
    point: str,
    worker: ServiceProcess,
    service_env: dict[str, str],
) -> None:
    workflow_id = crash_at(kubectl, worker, point, module=module_id)
    mi = wait_phase(kubectl, "mi/life", "Active", timeout=180)
    client = await temporal.connect(
        service_env["ADX_TEMPORAL_ADDRESS"], service_env["ADX_TEMPORAL_NAMESPACE"]
    )
    await installed_once(kubectl, service_env, client.get_workflow_handle(workflow_id), mi)


async def test_a_crash_after_a_failure_was_counted_counts_it_once(
    kubectl: Kubectl, module_id: str, worker: ServiceProcess, service_env: dict[str, str]
) -> None:
    publish(kubectl, module_id, "3.0.0", image=f"never-ready.adx.test/{module_id}:3.0.0")
    workflow_id = crash_at(
        kubectl,
        worker,
        "report:failure-counted",
        module=module_id,
        version="3.0.0",
        update={"healthTimeoutSeconds": 10},
    )
    # the status already says Failed (the crash came after it was written): wait for the end of
    # the workflow, whose failure report the new worker ran again
    client = await temporal.connect(
        service_env["ADX_TEMPORAL_ADDRESS"], service_env["ADX_TEMPORAL_NAMESPACE"]
    )
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), timeout=120)
    failed = kubectl.json("get", "mi", "life")
    assert failed["status"]["phase"] == "Failed"
    assert failed["status"]["failures"] == {
        "consecutive": 1,
        "total": 1,
        "lastWorkflow": workflow_id,
    }
    assert "removed what it had created" in failed["status"]["message"]
