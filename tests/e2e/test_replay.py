"""Workflow histories from real runs replay under the current code: no non-determinism.

A full lifecycle (install, an update that is rolled back, uninstall) runs on the stack; the
three histories are fetched from Temporal and replayed. With ``ADX_RECORD_HISTORIES=1`` they are
also written to ``tests/fixtures/histories/``, where a unit test replays them on every run, so
a change that breaks running workflows fails without any services.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=client.data_converter)
    for name, workflow_id in (
        ("install", f"{base}/g1"),
        ("update-rollback", f"{base}/g2"),
        ("uninstall", f"{base}/uninstall"),
    ):
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{name}: {result.replay_failure}"
        if os.environ.get("ADX_RECORD_HISTORIES"):
            RECORDED.mkdir(parents=True, exist_ok=True)
            (RECORDED / f"{name}.json").write_text(history.to_json())
