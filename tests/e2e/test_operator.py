"""The operator with kubectl, as a user meets it: samples, conditions, columns, events, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase
from support.operator import ServiceProcess, json_lines

SAMPLES = Path(__file__).parents[2] / "manifests" / "samples"
pytestmark = pytest.mark.usefixtures("operator", "worker", "wasm_host", "runner")


def purchases(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``adx-module-service purchases ...`` as an operator runs it; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "adx_modules", "purchases", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_samples_reach_their_expected_conditions(
    kubectl: Kubectl, service_env: dict[str, str]
) -> None:
    kubectl("apply", "-f", str(SAMPLES))
    for path in sorted(SAMPLES.glob("0*-module-*.yaml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        # what a user (or a GitOps health check) would run
        kubectl("wait", "--for=condition=Ready", "--timeout=60s", f"module/{name}")
        assert kubectl.json("get", "module", name)["status"]["phase"] == "Available"
    for listing in ("analytics-dashboard", "text-transform"):
        kubectl("wait", "--for=condition=Ready", "--timeout=60s", f"marketplacelisting/{listing}")

    # the analytics dashboard is sold (the paid listing sample): it waits for a purchase
    waiting = wait_phase(kubectl, "mi/analytics", "AwaitingPurchase", timeout=120)
    assert condition(waiting, "Stalled")["reason"] == "EntitlementRequired"
    assert (
        "MarketplaceListing analytics-dashboard (19.99 USD (subscription))"
        in (condition(waiting, "Entitled")["message"])
    )
    bought = purchases(
        service_env,
        *("buy", kubectl.namespace, "analytics-dashboard", "--user", "ops", "--invoice", "PO-1"),
    )
    assert bought["status"] == "pending"
    purchases(service_env, "approve", bought["purchase_id"], "--approver", "finance")
    kubectl("wait", "--for=condition=Ready", "--timeout=120s", "mi/analytics")
    analytics = kubectl.json("get", "mi", "analytics")
    assert condition(analytics, "Entitled")["reason"] == "Purchased"
    assert analytics["status"]["phase"] == "Active"
    assert analytics["status"]["installedVersion"] == "2.1.0"

    waiting = wait_condition(kubectl, "mi/csv-importer", "PermissionsApproved", "False")
    assert waiting["status"]["phase"] == "AwaitingApproval"
    assert "file:read:/tmp/imports" in condition(waiting, "PermissionsApproved")["message"]
    assert condition(waiting, "Stalled")["reason"] == "Blocked"

    # the WASM sample runs in the WASM host, at the endpoint its status shows
    kubectl("wait", "--for=condition=Ready", "--timeout=120s", "mi/text-transform")
    wasm = kubectl.json("get", "mi", "text-transform")
    assert (wasm["status"]["phase"], wasm["status"]["isolation"]) == ("Active", "wasm")
    endpoint = wasm["status"]["endpoints"][0]["url"]
    answer = httpx.post(f"{endpoint}/text-transform", json={"text": "hello"}, timeout=30)
    assert answer.json() == {"FUNCTION": "TEXT-TRANSFORM", "INPUT": {"TEXT": "HELLO"}}

    # approving the permissions moves it on: the update handler re-evaluates
    kubectl(
        "patch",
        "mi",
        "csv-importer",
        "--type=merge",
        "-p",
        '{"spec":{"approvedPermissions":["file:read:/tmp/imports","database:write:imports"]}}',
    )
    approved = wait_condition(kubectl, "mi/csv-importer", "PermissionsApproved")
    assert approved["metadata"]["generation"] == 2
    assert condition(approved, "PermissionsApproved")["observedGeneration"] == 2
    # and it runs in a process of its own under the module runner, serving its code's route
    kubectl("wait", "--for=condition=Ready", "--timeout=120s", "mi/csv-importer")
    process = kubectl.json("get", "mi", "csv-importer")
    assert (process["status"]["phase"], process["status"]["isolation"]) == ("Active", "process")
    greeted = httpx.get(f"{process['status']['endpoints'][0]['url']}/greet", timeout=30)
    assert greeted.json() == {"message": "hello, world"}


def test_kubectl_get_adx_shows_every_kind_with_its_columns(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(SAMPLES))
    wait_condition(kubectl, "mi/analytics", "Accepted")
    output = kubectl("get", "adx").stdout
    assert "MODULE    VERSION   RUNTIME" not in output  # columns are aligned per kind, below
    headers = [line.split() for line in output.splitlines() if line.startswith("NAME")]
    assert ["NAME", "MODULE", "VERSION", "RUNTIME", "SCORE", "READY", "AGE"] in headers
    assert ["NAME", "MODULE", "INSTALLED", "ISOLATION", "PHASE", "READY", "AGE"] in headers
    assert ["NAME", "MODULE", "PRICING", "RATING", "FEATURED", "READY", "AGE"] in headers
    assert "module.modules.adxcore.com/analytics-dashboard-2-1-0" in output
    short = kubectl("get", "mod,mi,mkt", "-o", "name").stdout
    assert "moduleinstallation.modules.adxcore.com/analytics" in short


def test_kubectl_explain_explains_the_fields(kubectl: Kubectl) -> None:
    explained = kubectl("explain", "module.spec.dependencies").stdout
    assert "Other modules this one needs" in explained
    assert "optional" in explained
    assert "moduleId" in explained
    pricing = kubectl("explain", "marketplacelisting.spec.pricing.model").stdout
    assert "free, one-time or subscription" in pricing


def test_an_installation_of_an_unpublished_module_waits_then_proceeds(
    kubectl: Kubectl, unique: str
) -> None:
    module_id = f"later-{unique}"
    kubectl.apply(installation_doc("later", module_id))
    stalled = wait_condition(kubectl, "mi/later", "Stalled")
    assert condition(stalled, "Resolved")["reason"] == "ModuleNotFound"
    assert f"no Module with moduleId {module_id}" in stalled["status"]["message"]

    kubectl.apply(module_doc(module_id, "1.0.0"))
    try:
        accepted = wait_condition(kubectl, "mi/later", "Accepted")
        assert accepted["status"]["resolvedVersion"] == "1.0.0"
        assert condition(accepted, "Stalled") == {}
    finally:
        kubectl("delete", "module", f"{module_id}-1-0-0", "--wait=false")


def test_bad_configuration_is_named_and_fixing_it_retries(kubectl: Kubectl, unique: str) -> None:
    module_id = f"configured-{unique}"
    schema = {
        "type": "object",
        "properties": {"retries": {"type": "integer", "maximum": 5}},
        "required": ["retries"],
    }
    kubectl.apply(module_doc(module_id, "1.0.0", configSchema=schema))
    try:
        kubectl.apply(installation_doc("configured", module_id, configuration={"retries": 9}))
        rejected = wait_condition(kubectl, "mi/configured", "Stalled")
        assert condition(rejected, "Accepted")["reason"] == "InvalidConfiguration"
        assert (
            "spec.configuration.retries: 9 is greater than the maximum of 5"
            in (rejected["status"]["message"])
        )
        assert rejected["status"]["phase"] == "Failed"

        kubectl(
            "patch",
            "mi",
            "configured",
            "--type=merge",
            "-p",
            '{"spec":{"configuration":{"retries":3}}}',
        )
        accepted = wait_condition(kubectl, "mi/configured", "Accepted")
        assert accepted["status"]["observedGeneration"] == 2
        assert condition(accepted, "Accepted")["observedGeneration"] == 2
    finally:
        kubectl("delete", "module", f"{module_id}-1-0-0", "--wait=false")


def test_a_duplicate_version_is_rejected_until_the_original_goes(
    kubectl: Kubectl, unique: str
) -> None:
    module_id = f"dup-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0", name=f"{module_id}-first"))
    wait_condition(kubectl, f"module/{module_id}-first", "Ready")
    kubectl.apply(module_doc(module_id, "1.0.0", name=f"{module_id}-second"))
    try:
        second = wait_condition(kubectl, f"module/{module_id}-second", "Stalled")
        assert condition(second, "Ready")["reason"] == "DuplicateVersion"
        assert f"already published as Module {module_id}-first" in second["status"]["message"]
        assert second["status"]["phase"] == "Rejected"

        kubectl("delete", "module", f"{module_id}-first")
        promoted = wait_condition(kubectl, f"module/{module_id}-second", "Ready")
        assert promoted["status"]["phase"] == "Available"
    finally:
        kubectl("delete", "module", f"{module_id}-second", "--wait=false")


def test_a_listing_follows_the_latest_available_version(kubectl: Kubectl, unique: str) -> None:
    module_id = f"listed-{unique}"
    listing = {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "MarketplaceListing",
        "metadata": {"name": module_id},
        "spec": {
            "module": module_id,
            "publisher": {"name": "Tests"},
            "summary": "Listed.",
            "pricing": {"model": "free"},
        },
    }
    kubectl.apply(listing)
    try:
        missing = wait_condition(kubectl, f"mkt/{module_id}", "Stalled")
        assert condition(missing, "Ready")["reason"] == "ModuleNotFound"
        kubectl.apply(module_doc(module_id, "1.0.0"))
        linked = wait_condition(kubectl, f"mkt/{module_id}", "Ready")
        assert linked["status"]["latestVersion"] == "1.0.0"
        kubectl.apply(module_doc(module_id, "1.1.0"))
        kubectl.wait_for(
            lambda: kubectl.json("get", "mkt", module_id)["status"].get("latestVersion") == "1.1.0"
        )
    finally:
        kubectl("delete", "mkt", module_id, "--wait=false")
        for version in ("1-0-0", "1-1-0"):
            kubectl("delete", "module", f"{module_id}-{version}", "--wait=false", check=False)


def test_events_tell_the_story(kubectl: Kubectl, unique: str) -> None:
    module_id = f"evented-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    try:
        wait_condition(kubectl, f"module/{module_id}-1-0-0", "Ready")

        def events() -> list[dict[str, Any]]:
            found = kubectl.json(
                "get",
                "events",
                "--all-namespaces",
                f"--field-selector=involvedObject.name={module_id}-1-0-0",
            )["items"]
            return [e for e in found if e["reason"] == "Available"]

        available = kubectl.wait_for(events, timeout=30)
        assert available[0]["type"] == "Normal"
        assert f"{module_id} 1.0.0 is available" in available[0]["message"]
    finally:
        kubectl("delete", "module", f"{module_id}-1-0-0", "--wait=false")


def test_bookkeeping_stays_out_of_metadata_and_the_finalizer_comes_off(
    kubectl: Kubectl, unique: str
) -> None:
    module_id = f"kept-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    try:
        kubectl.apply(installation_doc("kept", module_id))
        obj = wait_condition(kubectl, "mi/kept", "Ready")
        annotations = obj["metadata"].get("annotations", {})
        assert not [key for key in annotations if "kopf" in key], annotations
        assert obj["metadata"]["finalizers"] == ["modules.adxcore.com/cleanup"]
        # what was handled is the status's observedGeneration: Kopf writes nothing of its own
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
        assert "lastHandledConfiguration" not in (obj["status"].get("kopf") or {})
        kubectl("delete", "mi", "kept", "--timeout=30s")
        assert "NotFound" in kubectl("get", "mi", "kept", check=False).stderr
    finally:
        kubectl("delete", "module", f"{module_id}-1-0-0", "--wait=false")


def test_the_liveness_probe_answers(operator: ServiceProcess) -> None:
    assert httpx.get(operator.health_url, timeout=5).status_code == 200


def test_both_processes_serve_prometheus_metrics(
    kubectl: Kubectl, unique: str, operator: ServiceProcess, worker: ServiceProcess
) -> None:
    module_id = f"metered-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    try:
        kubectl.apply(installation_doc("metered", module_id))
        wait_condition(kubectl, "mi/metered", "Ready", timeout=120)
        ours = httpx.get(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5).text
        assert 'adx_workflows_started_total{workflow="InstallModuleWorkflow"}' in ours
        assert 'adx_reconciles_total{kind="ModuleInstallation",outcome="accepted"}' in ours
        theirs = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5).text
        assert 'adx_activity_seconds_count{activity="provision",outcome="succeeded"}' in theirs
        # counted by the workflow itself, copied into the registry within a second
        installed = {"module": module_id, "outcome": "succeeded"}
        kubectl.wait_for(lambda: worker.sample("module_installations_total", **installed), 10)
        assert worker.sample("module_installations_total", **installed) == 1
        assert worker.sample("module_installations_total", module=module_id, outcome="failed") == 0
        uid = kubectl.json("get", "mi", "metered")["metadata"]["uid"]
        install_id = f"mi/{kubectl.namespace}/metered/{uid}/g1"
        started = [line for line in json_lines(operator.log()) if line.get("uid") == uid]
        assert started, "the operator's JSON log names the installation's uid"
        assert install_id in {line.get("workflow_id") for line in started}
        for outcome in ("started", "succeeded"):
            runs = worker.sample(
                "workflow_executions_total", workflow="InstallModuleWorkflow", outcome=outcome
            )
            assert runs >= 1, outcome
    finally:
        kubectl("delete", "module", f"{module_id}-1-0-0", "--wait=false")
