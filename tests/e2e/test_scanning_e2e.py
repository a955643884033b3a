"""Scanning end to end: Modules whose artifacts are in the local registry are scanned by the
worker (real Trivy, real registry, PostgreSQL's cache), become Available or Rejected with their
score, and installs run exactly what was scanned.

This module runs its own operator and worker with scanning enabled, before the session's shared
pair (scanning disabled) starts: one operator watches the cluster's Modules at a time.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.authoring.manifest import read_manifest
from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import scaffold
from adx_modules.clients import temporal
from adx_modules.devstack import vulndb
from adx_modules.devstack.images import push_image, python_package
from adx_modules.devstack.toolchain import cache_dir
from support.database import query
from support.examples import publish_example
from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase
from support.operator import ServiceProcess
from support.stack import StackInfo

BIN = cache_dir() / "bin"
ADVISORY = """
- bucket: "pip::GitHub Security Advisory Pip"
  pairs:
    - bucket: adxprobe
      pairs:
        - key: CVE-2026-40001
          value:
            PatchedVersions: ["2.0.0"]
            VulnerableVersions: ["< 2.0.0"]
- bucket: vulnerability
  pairs:
    - key: CVE-2026-40001
      value:
        Title: "adxprobe: an advisory published after the module was scanned"
        Severity: CRITICAL
        VendorSeverity:
          ghsa: 4
"""
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture(scope="module")
def database(stack: StackInfo) -> str:
    """A vulnerability database of this module's own (the repository's advisories), so that
    the rescan test can publish a new version of it."""
    repository = f"adx-tests/trivy-db-{uuid.uuid4().hex[:8]}"
    return vulndb.publish(BIN, stack.env["ADX_REGISTRY_ADDRESS"], repository=repository)


@pytest.fixture(scope="module")
def scanning_service(
    stack: StackInfo, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """An operator and a worker with scanning enabled (the product's default), checking their
    database for a new version every 5 s."""
    suffix = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("scanning")
    env = {
        **stack.env,
        "ADX_TEMPORAL_TASK_QUEUE": f"scan-{suffix}",
        "ADX_DATABASE_SCHEMA_NAME": f"scan_{suffix}",
        "ADX_SECURITY_SCANNING_ENABLED": "true",
        "ADX_SECURITY_SCAN_CACHE_DIR": str(logs / "trivy"),
        "ADX_SECURITY_VULNERABILITY_DB": database,
        "ADX_SECURITY_DATABASE_CHECK_SECONDS": "5",
    }
    processes = {
        role: ServiceProcess(role, env, logs / f"{role}.log") for role in ("worker", "operator")
    }
    try:
        for process in processes.values():
            process.start()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture
def registry(stack: StackInfo) -> str:
    return stack.env["ADX_REGISTRY_ADDRESS"]


def scans_run(worker: ServiceProcess) -> float:
    """How many findings fresh scans counted (cache hits count none)."""
    text = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("security_scan_results_total{")
    )


def module_status(kubectl: Kubectl, name: str, phase: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_phase(kubectl, f"module/{name}", phase, timeout=180)
    return found


def publish_image(
    kubectl: Kubectl,
    registry: str,
    module_id: str,
    files: dict[str, bytes],
    *,
    by_tag: bool = False,
    **spec: Any,
) -> str:
    """Push an image of ``files`` as ``adx-tests/<module_id>:1.0.0`` and apply a Module 1.0.0 that
    names it (by digest, or by its tag; ``spec`` adds fields); the pinned reference pushed."""
    repository = f"{registry}/adx-tests/{module_id}"
    pinned = push_image(registry, f"adx-tests/{module_id}", "1.0.0", files, insecure=True)
    doc = module_doc(module_id, "1.0.0", **spec)
    doc["spec"]["artifact"] = {"image": {"reference": f"{repository}:1.0.0" if by_tag else pinned}}
    kubectl.apply(doc)
    return pinned


def deployment_image(kubectl: Kubectl, installation: str) -> str:
    deployment = kubectl.json("get", "deployment", f"mod-{installation}")
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def test_a_clean_image_is_scanned_pinned_and_installed_as_scanned(
    scanning_service: dict[str, ServiceProcess], kubectl: Kubectl, registry: str, unique: str
) -> None:
    module_id = f"clean-{unique}"
    limits = {"limits": {"cpu": "100m", "memory": "64Mi"}}
    files = {"module": b"clean\n"}
    scanned = publish_image(kubectl, registry, module_id, files, by_tag=True, resources=limits)
    module = module_status(kubectl, f"{module_id}-1-0-0", "Available")
    status = module["status"]
    assert status["scannedReference"] == scanned  # the tag resolved to its digest
    assert status["digest"] == scanned.split("@")[1]
    assert status["securityScore"] == 100
    assert status["databaseVersion"]
    assert status["scannedAt"]
    assert condition(module, c.SCANNED)["reason"] == r.SCAN_PASSED

    kubectl.apply(installation_doc("first", module_id))
    installed = wait_condition(kubectl, "moduleinstallation/first", c.READY, timeout=120)
    assert condition(installed, c.SCANNED)["reason"] == r.SCAN_PASSED
    assert deployment_image(kubectl, "first") == scanned

    # the tag moves to other bytes after the scan: what installs is still what was scanned
    swapped = {"module": b"swapped\n"}
    moved = push_image(registry, f"adx-tests/{module_id}", "1.0.0", swapped, insecure=True)
    assert moved != scanned
    kubectl.apply(installation_doc("second", module_id))
    wait_condition(kubectl, "moduleinstallation/second", c.READY, timeout=120)
    assert deployment_image(kubectl, "second") == scanned


def test_a_vulnerable_image_is_rejected_and_its_install_is_refused(
    scanning_service: dict[str, ServiceProcess], kubectl: Kubectl, registry: str, unique: str
) -> None:
    module_id = f"vulnerable-{unique}"
    files = {**python_package("PyYAML", "5.3"), "module": b"vulnerable\n"}
    publish_image(kubectl, registry, module_id, files)
    module = module_status(kubectl, f"{module_id}-1-0-0", "Rejected")
    scanned = condition(module, c.SCANNED)
    assert (scanned["status"], scanned["reason"]) == ("False", r.SECURITY_SCORE_TOO_LOW)
    assert "CVE-2020-14343" in scanned["message"]
    assert module["status"]["securityScore"] < 70
    assert module["status"]["findings"]["critical"] == 1

    kubectl.apply(installation_doc("refused", module_id))
    refused = wait_condition(kubectl, "moduleinstallation/refused", c.RESOLVED, "False")
    assert condition(refused, c.RESOLVED)["reason"] == r.NO_MATCHING_VERSION
    assert "1.0.0 Rejected" in condition(refused, c.RESOLVED)["message"]
    assert kubectl("get", "deployment", "mod-refused", check=False).returncode != 0


def test_a_package_with_a_secret_and_a_vulnerable_dependency_is_rejected_naming_both(
    scanning_service: dict[str, ServiceProcess],
    kubectl: Kubectl,
    registry: str,
    unique: str,
    tmp_path: Path,
) -> None:
    module_id = f"leaky-{unique}"
    directory = tmp_path / module_id
    scaffold(directory, module_id, "python")
    (directory / "settings.py").write_text(f'TOKEN = "{TOKEN}"\n')
    (directory / "requirements.lock").write_text("PyYAML==5.3\n")
    package = build(directory / "manifest.json", tmp_path / "m.adx").path
    reference = publish(package, registry, insecure=True).reference
    spec = {
        **read_manifest(directory / "manifest.json"),
        "artifact": {"package": {"oci": reference}},
    }
    name = f"{module_id}-0-1-0"
    kubectl.apply(
        {
            "apiVersion": "modules.adxcore.com/v1alpha1",
            "kind": "Module",
            "metadata": {"name": name},
            "spec": spec,
        }
    )
    module = module_status(kubectl, name, "Rejected")
    message = condition(module, c.SCANNED)["message"]
    assert "secret/github-pat" in message
    assert "CVE-2020-14343" in message
    assert module["status"]["securityScore"] == 0  # a secret is fatal

    # a second Module on the same artifact: answered from the cache, no scanner runs
    before = scans_run(scanning_service["worker"])
    twin = {**spec, "moduleId": f"twin-{unique}"}
    kubectl.apply(
        {
            "apiVersion": "modules.adxcore.com/v1alpha1",
            "kind": "Module",
            "metadata": {"name": f"twin-{unique}"},
            "spec": twin,
        }
    )
    again = module_status(kubectl, f"twin-{unique}", "Rejected")
    assert again["status"]["digest"] == module["status"]["digest"]
    assert scans_run(scanning_service["worker"]) == before


@pytest.mark.usefixtures("scanning_service")
@pytest.mark.parametrize("example", ["python/orders", "javascript/invoicer"])
def test_the_example_modules_are_scanned_clean(
    kubectl: Kubectl, stack: StackInfo, unique: str, tmp_path: Path, example: str
) -> None:
    published, _ = publish_example(kubectl, stack, example, unique, tmp_path)
    module = module_status(kubectl, published["metadata"]["name"], "Available")
    assert condition(module, c.SCANNED)["status"] == "True"
    assert module["status"]["securityScore"] == 100
    assert module["status"]["digest"] in str(published["spec"]["artifact"])  # what it pinned


@pytest.mark.usefixtures("scanning_service")
def test_a_new_vulnerability_database_rescans_and_warns_running_installations(
    kubectl: Kubectl,
    registry: str,
    database: str,
    unique: str,
    tmp_path: Path,
) -> None:
    module_id = f"probe-{unique}"
    files = {**python_package("adxprobe", "1.0.0"), "module": b"probe\n"}
    publish_image(kubectl, registry, module_id, files)
    name = f"{module_id}-1-0-0"
    before = module_status(kubectl, name, "Available")["status"]
    kubectl.apply(installation_doc("probe", module_id))
    wait_condition(kubectl, "moduleinstallation/probe", c.READY, timeout=120)

    # an advisory against it is published: a new database version in the same repository
    advisories = tmp_path / "advisories"
    shutil.copytree(vulndb.advisories(), advisories)
    (advisories / "zz-published-later.yaml").write_text(ADVISORY)
    (advisories / "UPDATED_AT").write_text("2026-12-01T00:00:00Z\n")
    vulndb.publish(
        BIN, registry, source=advisories, repository=database.split("/", 1)[1].rsplit(":", 1)[0]
    )

    rejected = module_status(kubectl, name, "Rejected")["status"]
    assert rejected["databaseVersion"] != before["databaseVersion"]
    assert rejected["digest"] == before["digest"]  # the same artifact, judged again
    assert "CVE-2026-40001" in rejected["message"]

    def warned() -> dict[str, Any] | None:
        found: dict[str, Any] = kubectl.json("get", "moduleinstallation/probe")
        return found if condition(found, c.SCANNED).get("status") == "False" else None

    installation = kubectl.wait_for(warned, timeout=60)
    assert condition(installation, c.SCANNED)["reason"] == r.SECURITY_SCORE_TOO_LOW
    assert "keeps running" in condition(installation, c.SCANNED)["message"]
    assert condition(installation, c.READY)["status"] == "True"  # it runs on, as documented
    assert installation["status"]["phase"] == "Active"


@pytest.mark.parametrize("point", ["scan_artifact:after", "report_scan:after"])
async def test_a_crash_after_the_verdict_was_stored_or_shown_scans_once(
    scanning_service: dict[str, ServiceProcess],
    kubectl: Kubectl,
    registry: str,
    unique: str,
    point: str,
) -> None:
    """The worker dies after the verdict is stored (not yet returned), or after the Module's
    status shows it (not yet reported): one verdict, one workflow run, the Module Available."""
    worker = scanning_service["worker"]
    module_id = f"crashed-{unique}"
    with worker.crashing_at(point, "module-scan-") as crash:
        scanned = publish_image(kubectl, registry, module_id, {"module": point.encode()})
    module = module_status(kubectl, f"{module_id}-1-0-0", "Available")
    assert crash.workflow_id == f"module-scan-{module['metadata']['uid']}"
    assert module["status"]["scannedReference"] == scanned
    client = await temporal.connect(
        worker.env["ADX_TEMPORAL_ADDRESS"], worker.env["ADX_TEMPORAL_NAMESPACE"]
    )
    handle = client.get_workflow_handle(crash.workflow_id)
    await asyncio.wait_for(handle.result(), timeout=60)
    runs = [run async for run in client.list_workflows(f"WorkflowId = '{crash.workflow_id}'")]
    assert len(runs) == 1
    verdicts = await query(
        worker.env, "SELECT count(*) AS n FROM scans WHERE digest = $1", scanned.split("@")[1]
    )
    assert verdicts == [{"n": 1}]
