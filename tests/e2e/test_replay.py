"""Workflow histories from real runs replay under the current code: no non-determinism.

A full lifecycle (install, an update that is rolled back, uninstall), an install that waits for
approval, one with dependencies and one that fails and is undone run on the stack; their
histories are fetched from Temporal and replayed. With ``ADX_RECORD_HISTORIES=1`` they are
also written to ``tests/fixtures/histories/``, where a unit test replays them on every run, so
a change that breaks running workflows fails without any services.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from adx_modules.clients import temporal
from adx_modules.service.worker import WORKFLOWS
from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase

pytestmark = pytest.mark.usefixtures("operator", "worker")
RECORDED = Path(__file__).parents[1] / "fixtures" / "histories"


async def test_lifecycle_histories_replay(
    kubectl: Kubectl, unique: str, service_env: dict[str, str]
) -> None:
    module_id = f"replay-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(
        module_doc(
            module_id,
            "2.0.0",
            artifact={"image": {"reference": f"never-ready.adx.test/{module_id}:2.0.0"}},
        )
    )
    wait_condition(kubectl, f"module/{module_id}-2-0-0", "Ready")
    kubectl.apply(installation_doc("replayed", module_id, version="1.0.0"))
    installed = wait_phase(kubectl, "mi/replayed", "Active")
    uid = installed["metadata"]["uid"]
    kubectl(
        "patch",
        "mi",
        "replayed",
        "--type=merge",
        "-p",
        '{"spec":{"version":"2.0.0","update":{"healthTimeoutSeconds":10}}}',
    )
    kubectl.wait_for(
        lambda: (
            condition(kubectl.json("get", "mi", "replayed"), "Remediated").get("status") == "True"
        ),
        timeout=120,
    )
    kubectl("delete", "mi", "replayed", "--timeout=90s")

    client = await temporal.connect(
        service_env["ADX_TEMPORAL_ADDRESS"], service_env["ADX_TEMPORAL_NAMESPACE"]
    )
    base = f"mi/{kubectl.namespace}/replayed/{uid}"
    for name, workflow_id in (
        ("install", f"{base}/g1"),
        ("update-rollback", f"{base}/g2"),
        ("uninstall", f"{base}/uninstall"),
    ):
        await replay_and_record(client, name, workflow_id)


async def replay_and_record(client: Client, name: str, workflow_id: str) -> None:
    """Replay the history of ``workflow_id``; keep it as ``name`` when asked to record."""
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=client.data_converter)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
    if os.environ.get("ADX_RECORD_HISTORIES"):
        RECORDED.mkdir(parents=True, exist_ok=True)
        (RECORDED / f"{name}.json").write_text(history.to_json())


def workflow_of(kubectl: Kubectl, name: str, generation: int) -> str:
    uid = kubectl.json("get", "mi", name)["metadata"]["uid"]
    return f"mi/{kubectl.namespace}/{name}/{uid}/g{generation}"


async def test_approval_dependency_and_failure_histories_replay(
    kubectl: Kubectl, unique: str, service_env: dict[str, str]
) -> None:
    client = await temporal.connect(
        service_env["ADX_TEMPORAL_ADDRESS"], service_env["ADX_TEMPORAL_NAMESPACE"]
    )
    base, child = f"replay-parent-{unique}", f"replay-child-{unique}"
    kubectl.apply(module_doc(child, "1.0.0"))
    kubectl.apply(
        module_doc(
            base,
            "1.0.0",
            permissions=["database:read:user_data"],
            dependencies=[{"moduleId": child, "version": "^1.0"}],
        )
    )
    kubectl.apply(
        module_doc(
            base,
            "9.0.0",
            artifact={"image": {"reference": f"never-ready.adx.test/{base}:9.0.0"}},
        )
    )
    wait_condition(kubectl, f"module/{base}-9-0-0", "Ready")
    wait_condition(kubectl, f"module/{base}-1-0-0", "Ready")

    # waits for approval (generation 1), then approving it supersedes that workflow
    kubectl.apply(installation_doc("waiter", base, version="1.0.0"))
    wait_phase(kubectl, "mi/waiter", "AwaitingApproval")
    waiting = workflow_of(kubectl, "waiter", 1)
    kubectl.wait_for(
        lambda: (
            kubectl.json("get", "mi", "waiter")["status"].get("workflow", {}).get("step")
            == "approve-permissions"
        )
    )
    kubectl(
        "patch",
        "mi",
        "waiter",
        "--type=merge",
        "-p",
        '{"spec":{"approvedPermissions":["database:read:user_data"]}}',
    )
    # generation 2 installs the dependency first, then the module
    wait_phase(kubectl, "mi/waiter", "Active", timeout=180)
    await replay_and_record(client, "approval-wait", waiting)
    await replay_and_record(client, "dependencies", workflow_of(kubectl, "waiter", 2))

    # an install that never gets healthy is undone
    kubectl.apply(
        installation_doc("doomed", base, version="9.0.0", update={"healthTimeoutSeconds": 10})
    )
    wait_phase(kubectl, "mi/doomed", "Failed", timeout=120)
    await replay_and_record(client, "failed-install", workflow_of(kubectl, "doomed", 1))
