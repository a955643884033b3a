"""What is not ours is never touched: a tenant's own objects that clash with a sandbox's names
are not adopted, changed or deleted; the install stops at once and names them.

Real cluster, real Temporal, real PostgreSQL; the operator and the worker run as users run them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase

pytestmark = pytest.mark.usefixtures("operator", "worker")


@pytest.fixture
def module_id(kubectl: Kubectl, unique: str) -> Iterator[str]:
    name = f"own-{unique}"
    kubectl.apply(module_doc(name, "1.0.0"))
    wait_condition(kubectl, f"module/{name}-1-0-0", "Ready")
    yield name
    kubectl("delete", "module", f"{name}-1-0-0", "--wait=false", check=False)


def tenant_deployment(name: str) -> dict[str, Any]:
    """The tenant's own Deployment, with a selector the sandbox's would have to change."""
    labels = {"app": "tenants-own"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"owner": "tenant"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.local/tenant/web:1",
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def tenant_configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"owner": "tenant"}},
        "data": {"mine": "yes"},
    }


def tenant_owned(obj: dict[str, Any]) -> dict[str, Any]:
    """What the tenant wrote and an adopting or repairing operator would change."""
    meta = obj["metadata"]
    return {
        "uid": meta["uid"],
        "generation": meta.get("generation"),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "ownerReferences": meta.get("ownerReferences"),
        "finalizers": meta.get("finalizers"),
        "spec": obj.get("spec"),
        "data": obj.get("data"),
    }


def writers(obj: dict[str, Any]) -> set[str]:
    return {entry["manager"] for entry in obj["metadata"].get("managedFields", [])}


def test_a_clashing_tenant_deployment_is_left_untouched_and_named(
    kubectl: Kubectl, module_id: str
) -> None:
    kubectl.create(tenant_deployment("mod-charts"), tenant_configmap("mod-charts-config"))
    before = {
        kind: kubectl.json("get", kind, name)
        for kind, name in (("deployment", "mod-charts"), ("configmap", "mod-charts-config"))
    }
    started = time.monotonic()
    kubectl.apply(installation_doc("charts", module_id))
    failed = wait_phase(kubectl, "mi/charts", "Failed", timeout=60)
    # stopped at once: a permanent refusal, not minutes of retries
    assert time.monotonic() - started < 30
    stalled = condition(failed, "Stalled")
    assert stalled["reason"] == "ObjectConflict"
    assert "ConfigMap mod-charts-config already exists" in stalled["message"] or (
        "Deployment mod-charts already exists" in stalled["message"]
    )
    assert "does not belong to ModuleInstallation charts" in stalled["message"]
    assert "HTTP" not in failed["status"]["message"]
    assert "ApiException" not in str(failed["status"])
    assert condition(failed, "Installed")["reason"] == "ObjectConflict"
    # the tenant's objects are exactly as they were: not adopted, changed or deleted
    # (the cluster's own deployment controller writes the Deployment's status meanwhile, so its
    # resourceVersion is no witness: what the tenant wrote, and who wrote anything, are)
    for kind, name in (("deployment", "mod-charts"), ("configmap", "mod-charts-config")):
        now = kubectl.json("get", kind, name)
        assert tenant_owned(now) == tenant_owned(before[kind])
        assert writers(now) <= writers(before[kind]) | {"kube-controller-manager"}, writers(now)
    # and nothing of the sandbox was left behind
    for kind in ("serviceaccount", "networkpolicy", "service"):
        assert (
            kubectl.json("get", kind, "-l", "modules.adxcore.com/installation=charts")["items"]
            == []
        )


def test_uninstall_never_deletes_what_the_installation_does_not_own(
    kubectl: Kubectl, module_id: str
) -> None:
    kubectl.apply(installation_doc("keep", module_id))
    wait_phase(kubectl, "mi/keep", "Active", timeout=120)
    # the tenant replaces the sandbox's ConfigMap with one of its own under the same name
    kubectl("delete", "configmap", "mod-keep-config")
    kubectl.create(tenant_configmap("mod-keep-config"))
    theirs = kubectl.json("get", "configmap", "mod-keep-config")["metadata"]["uid"]
    kubectl("delete", "mi", "keep", "--timeout=120s")
    assert kubectl.json("get", "configmap", "mod-keep-config")["metadata"]["uid"] == theirs
    assert kubectl("get", "deployment", "mod-keep", check=False).returncode != 0
