"""The pure seams of the lifecycle: the container sandbox's whole security posture, the health
verdict, the handlers' admission outcomes, and how a workflow's report becomes a status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.admission import module_outcome
from adx_modules.catalog.model import Catalog
from adx_modules.core.refs import InstallationRef
from adx_modules.core.sandbox_settings import SandboxSettings
from adx_modules.installations.activities.report import apply_report
from adx_modules.installations.admission import awaiting_judgement, installation_outcome
from adx_modules.installations.contract import ConditionChange, StatusReport
from adx_modules.sandboxes.container import manifests
from adx_modules.sandboxes.container.health import health_problem

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REF = InstallationRef(namespace="tenant", name="analytics", uid="uid-1", generation=3)


def module_spec(**extra: Any) -> dict[str, Any]:
    return {
        "moduleId": "analytics",
        "version": "2.1.0",
        "displayName": "Analytics",
        "author": "tests",
        "runtime": "container",
        "artifact": {"image": {"reference": "registry.local/analytics:2.1.0"}},
        **extra,
    }


def objects(**extra: Any) -> dict[str, dict[str, Any]]:
    module = ModuleSpec.model_validate(
        module_spec(
            permissions=["network:access:10.0.0.0/8:5432", "network:access:api.example.com"],
            extensionPoints={"api": [{"path": "/analytics", "port": 8080}]},
            **extra,
        )
    )
    spec = ModuleInstallationSpec(module="analytics", configuration={"theme": "dark"})
    built = manifests.manifests(
        REF, spec, module, runner_images={}, platform_label="adxcore.com/platform"
    )
    return {item["kind"]: item for item in built}


def test_the_pod_passes_pod_security_restricted_and_more() -> None:
    deployment = objects()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert not any(key in pod for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPath" not in volume for volume in pod["volumes"])
    # limits always set: the module's own or the defaults
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    # updates never leave the tenant without its module
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_every_object_is_owned_and_labelled_by_its_installation() -> None:
    for kind, item in objects().items():
        owners = item["metadata"]["ownerReferences"]
        assert owners == [manifests.owner_reference(REF)], kind
        assert item["metadata"]["labels"]["modules.adxcore.com/installation"] == "analytics"
        assert manifests.owned_by(item, REF)
    foreign = {"metadata": {"ownerReferences": [{"uid": "someone-else"}]}}
    assert not manifests.owned_by(foreign, REF)
    assert not manifests.owned_by({"metadata": {}}, REF)


def test_the_service_account_has_no_token_and_the_network_is_denied_but_declared() -> None:
    built = objects()
    assert built["ServiceAccount"]["automountServiceAccountToken"] is False
    policy = built["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    blocks = [
        peer["ipBlock"] for rule in policy["egress"] for peer in rule["to"] if "ipBlock" in peer
    ]
    assert blocks == [{"cidr": "10.0.0.0/8"}]  # the declared CIDR, nothing wider
    ingress_ports = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert ingress_ports == [8080]
    # host names cannot be a NetworkPolicy: they go to the platform's egress proxy
    annotations = built["NetworkPolicy"]["metadata"]["annotations"]
    assert annotations["modules.adxcore.com/allowed-hosts"] == "api.example.com"


def test_a_module_without_an_api_gets_no_service_and_no_ingress() -> None:
    module = ModuleSpec.model_validate(module_spec())
    built = manifests.manifests(
        REF,
        ModuleInstallationSpec(module="analytics"),
        module,
        runner_images={},
        platform_label="adxcore.com/platform",
    )
    kinds = [item["kind"] for item in built]
    assert kinds == ["ServiceAccount", "ConfigMap", "Deployment", "NetworkPolicy"]
    assert built[-1]["spec"]["ingress"] == []
    assert manifests.endpoints(REF, module) == []


def test_health_names_what_holds_the_rollout() -> None:
    deployment = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 2,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 0,
            "availableReplicas": 0,
        },
    }
    stuck_pod = {
        "metadata": {"name": "mod-analytics-1"},
        "status": {
            "containerStatuses": [
                {
                    "name": "module",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}},
                }
            ]
        },
    }
    assert health_problem(deployment, [stuck_pod]) == (
        "pod mod-analytics-1: container module is waiting (ImagePullBackOff: not found)"
    )
    assert health_problem(deployment, []) == "0/1 ready, 1 updated"
    unobserved = {**deployment, "status": {**deployment["status"], "observedGeneration": 1}}
    assert health_problem(unobserved, []) == "the rollout has not been observed yet"
    ready = {
        **deployment,
        "status": {**deployment["status"], "readyReplicas": 1, "availableReplicas": 1},
    }
    assert health_problem(ready, []) is None


def _catalog(phase: str = "Available", **extra: Any) -> Catalog:
    body = {
        "metadata": {"name": "analytics-2-1-0", "uid": "m1", "creationTimestamp": "t"},
        "spec": module_spec(**extra),
        "status": {"phase": phase},
    }
    return Catalog.from_objects([body])


def _installation(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "analytics", "namespace": "tenant", "generation": 3},
        "spec": {"module": "analytics", **spec},
        "status": {},
    }


def _conditions(patch: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {x["type"]: (x["status"], x["reason"]) for x in patch["conditions"]}


def test_an_accepted_installation_is_queued_with_every_condition_explained() -> None:
    outcome = installation_outcome(_installation(), _catalog(), SandboxSettings(), NOW)
    assert outcome.accepted
    assert outcome.patch["phase"] == "Pending"
    assert outcome.patch["resolvedVersion"] == "2.1.0"
    assert outcome.patch["observedGeneration"] == 3
    assert _conditions(outcome.patch) == {
        c.READY: ("False", r.PENDING),
        c.RECONCILING: ("True", r.PENDING),
        c.ACCEPTED: ("True", r.VALID),
        c.RESOLVED: ("True", r.RESOLVED_REASON),
        c.PERMISSIONS_APPROVED: ("True", r.SUCCEEDED),
    }
    assert outcome.event == ("Normal", r.PENDING, outcome.patch["message"])


def test_missing_permissions_are_accepted_but_stalled_for_a_human() -> None:
    catalog = _catalog(permissions=["database:read:user_data"])
    outcome = installation_outcome(_installation(), catalog, SandboxSettings(), NOW)
    assert outcome.accepted
    assert outcome.patch["phase"] == "AwaitingApproval"
    assert _conditions(outcome.patch)[c.STALLED] == ("True", r.BLOCKED)
    assert "database:read:user_data" in outcome.patch["message"]


def test_a_rejected_update_leaves_the_running_phase_alone() -> None:
    body = _installation(version="^9")
    body["status"] = {"phase": "Active"}
    outcome = installation_outcome(body, _catalog(), SandboxSettings(), NOW, installed=True)
    assert not outcome.accepted
    assert outcome.patch["phase"] == "Active"
    assert _conditions(outcome.patch)[c.STALLED] == ("True", r.NO_MATCHING_VERSION)
    assert _conditions(outcome.patch)[c.RESOLVED] == ("False", r.NO_MATCHING_VERSION)
    assert "spec.version" in outcome.patch["message"]


def test_an_installation_waits_for_its_modules_judgement_before_any_verdict() -> None:
    unjudged = Catalog.from_objects(
        [
            {
                "metadata": {"name": "analytics-2-1-0", "uid": "m1", "creationTimestamp": "t"},
                "spec": module_spec(),
            }
        ]
    )
    body = _installation()
    # not Available yet, so a verdict now would be a refusal: the judgement comes first
    assert not installation_outcome(body, unjudged, SandboxSettings(), NOW).accepted
    assert awaiting_judgement(body, unjudged)
    # judged (either way), or a module nobody published: the verdict stands
    assert not awaiting_judgement(body, _catalog())
    assert not awaiting_judgement(body, _catalog(phase="Rejected"))
    assert not awaiting_judgement(_installation(module="nothing"), unjudged)


def test_a_module_outcome_is_stable_so_a_restart_writes_nothing_new() -> None:
    body = {
        "metadata": {"name": "analytics-2-1-0", "uid": "m1", "generation": 1},
        "spec": module_spec(),
        "status": {},
    }
    for scanning in (True, False):
        first = module_outcome(
            body, Catalog.from_objects([body]), scanning_enabled=scanning, now=NOW
        )
        assert first.patch["phase"] == ("Pending" if scanning else "Available")
        again = module_outcome(
            {**body, "status": first.patch},
            Catalog.from_objects([body]),
            scanning_enabled=scanning,
            now=NOW,
        )
        assert again.patch == first.patch
        assert again.event is None  # Ready did not change: no Event on a resync


def report(**fields: Any) -> StatusReport:
    return StatusReport(ref=REF, workflow_id="w", step="wait-healthy", progress=60, **fields)


def test_a_report_becomes_the_status_it_says() -> None:
    update = apply_report(
        {},
        report(
            phase="Installing",
            rollup="reconciling",
            reason=r.PROGRESSING,
            message="installing analytics 2.1.0",
            conditions=[ConditionChange(type=c.RESOLVED, status="True", reason=r.RESOLVED_REASON)],
            fields={"resolved_version": "2.1.0"},
        ),
    )
    patch = update.patch()
    assert patch["workflow"] == {"id": "w", "step": "wait-healthy", "progress": 60}
    assert patch["phase"] == "Installing"
    assert patch["resolvedVersion"] == "2.1.0"
    assert _conditions(patch)[c.RECONCILING] == ("True", r.PROGRESSING)


def test_the_end_of_a_workflow_clears_it_counts_failures_and_keeps_history() -> None:
    status = {
        "failures": {"consecutive": 2, "total": 5},
        "history": [
            {"revision": n, "version": "1.0.0", "appliedAt": "2026-11-01T00:00:00Z"}
            for n in range(1, 21)
        ],
    }
    revision = {"revision": 21, "version": "2.0.0", "appliedAt": "2026-11-30T12:00:00Z"}
    success = apply_report(status, report(done=True, failure=False, revision=revision)).patch()
    assert success["workflow"] is None
    assert success["failures"] == {"consecutive": 0, "total": 5, "lastWorkflow": "w"}
    assert [h["revision"] for h in success["history"]] == list(range(2, 22))  # the last 20
    failed = apply_report(status, report(done=True, failure=True)).patch()
    assert failed["failures"] == {"consecutive": 3, "total": 6, "lastWorkflow": "w"}


def test_a_retried_failure_report_counts_the_failure_once() -> None:
    """The report activity runs at least once: killed after the status was written, it runs
    again on the status it wrote itself."""
    status = {"failures": {"consecutive": 0, "total": 1, "lastWorkflow": "earlier"}}
    first = apply_report(status, report(done=True, failure=True)).patch()
    assert first["failures"] == {"consecutive": 1, "total": 2, "lastWorkflow": "w"}
    again = apply_report({**status, **first}, report(done=True, failure=True)).patch()
    assert "failures" not in again or again["failures"] == first["failures"]


def test_a_report_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="no_such_field"):
        report(no_such_field=1)
    with pytest.raises(KeyError, match="installedVersoin"):
        apply_report({}, report(fields={"installedVersoin": "1.0.0"}))
