"""The scan workflow against the real Temporal, apiserver, registry, PostgreSQL and Trivy: a
scanner that cannot run is retried and shown on the Module, which never becomes Available
meanwhile; once the scanner can run, the same workflow reaches its verdict, and
``adx-module-service findings`` prints every finding behind it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.module import MODULE
from adx_modules.catalog.scanning.activities import Scanner
from adx_modules.catalog.scanning.contract import ScanActivities, ScanRequest
from adx_modules.catalog.scanning.workflow import ScanModuleWorkflow
from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.failures import FailureBoundary
from adx_modules.core.settings import Settings, load_settings
from adx_modules.devstack.images import push_image, python_package
from adx_modules.service import findings
from support.kube import Kubectl
from support.objects import condition, module_doc
from support.stack import StackInfo


def settings(stack: StackInfo, cache: Path, database: str) -> Settings:
    return load_settings(
        environ={
            "ADX_REGISTRY_INSECURE": "true",
            "ADX_SECURITY_SCAN_CACHE_DIR": str(cache),
            "ADX_SECURITY_VULNERABILITY_DB": database,
        }
    )


@pytest.fixture
async def clients(
    stack: StackInfo, db_schema: str
) -> AsyncIterator[tuple[Client, KubeClient, Store]]:
    client = await temporal.connect(stack.temporal_address, stack.temporal_namespace)
    async with (
        await KubeClient.connect(str(stack.kubeconfig)) as kube,
        await Store.connect(stack.database_url, schema=db_schema) as store,
    ):
        await store.migrate()
        yield client, kube, store


def scanned(kubectl: Kubectl, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", f"module/{name}")
    return condition(found, c.SCANNED)


async def test_a_scanner_that_cannot_run_is_retried_and_the_module_waits(
    *,
    stack: StackInfo,
    clients: tuple[Client, KubeClient, Store],
    db_schema: str,
    task_queue: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, kube, store = clients
    registry = stack.env["ADX_REGISTRY_ADDRESS"]
    files = {**python_package("PyYAML", "5.3"), "m": b"x\n"}
    image = push_image(registry, f"adx-tests/wait-{unique}", "1.0.0", files, insecure=True)
    doc = module_doc(f"wait-{unique}", "1.0.0")
    doc["spec"]["artifact"] = {"image": {"reference": image}}
    kubectl = Kubectl(stack.kubeconfig)
    kubectl.apply(doc)
    name = doc["metadata"]["name"]
    body = kubectl.json("get", f"module/{name}")
    request = ScanRequest(module=name, uid=body["metadata"]["uid"], spec=body["spec"])

    # no vulnerability database where the worker looks: Trivy cannot give a verdict
    missing = settings(stack, tmp_path / "broken", f"{registry}/adx-tests/no-such-db:2")
    broken = Scanner(store, missing, kube)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ScanModuleWorkflow],
        activities=[broken.scan_artifact, broken.report_scan],
        interceptors=[FailureBoundary()],
    ):
        handle = await client.start_workflow(
            ScanModuleWorkflow.run,
            request,
            id=ScanActivities.workflow_id(request.uid),
            task_queue=task_queue,
        )
        for _ in range(120):
            if scanned(kubectl, name).get("reason") == r.SCANNER_UNAVAILABLE:
                break
            await asyncio.sleep(0.5)
        waiting = kubectl.json("get", f"module/{name}")
        assert condition(waiting, c.SCANNED)["status"] == "Unknown"
        assert condition(waiting, c.SCANNED)["reason"] == r.SCANNER_UNAVAILABLE
        assert "next attempt in 30 s" in condition(waiting, c.SCANNED)["message"]
        assert waiting["status"]["phase"] == "Scanning"  # never Available meanwhile
        assert "securityScore" not in waiting["status"]

    # the scanner is back (a worker that has its database): the same workflow decides
    working = Scanner(
        store, settings(stack, tmp_path / "ok", stack.env["ADX_SECURITY_VULNERABILITY_DB"]), kube
    )
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ScanModuleWorkflow],
        activities=[working.scan_artifact, working.report_scan],
        interceptors=[FailureBoundary()],
    ):
        verdict = await asyncio.wait_for(handle.result(), timeout=120)
    assert verdict is not None
    assert verdict.reference == image
    decided = kubectl.json("get", f"module/{name}")
    assert decided["status"]["phase"] == "Rejected"  # PyYAML 5.3: a critical, fixable CVE (-37)
    assert decided["status"]["securityScore"] == 61  # and no resource limits (-1)
    assert decided["status"]["digest"] == image.split("@")[1]
    assert condition(decided, c.SCANNED)["reason"] == r.SECURITY_SCORE_TOO_LOW

    # every finding behind the verdict, from PostgreSQL
    monkeypatch.setenv("KUBECONFIG", str(stack.kubeconfig))
    printed = io.StringIO()
    schema = {"ADX_DATABASE_URL": stack.database_url, "ADX_DATABASE_SCHEMA_NAME": db_schema}
    assert await findings.show(load_settings(environ=schema), name, out=printed) == 0
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith(f"Module {name}: Rejected, security score 61, 2 findings")
    assert lines[1].startswith("CRITICAL vulnerability/CVE-2020-14343 ")
    assert "fixed in 5.4" in lines[1]
    assert (
        await findings.show(load_settings(environ=schema), "no-such-module") == findings.NOT_FOUND
    )
    await kube.delete_custom(MODULE, name)
