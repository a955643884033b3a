"""The HTTP API's modules routes: an install through the API is a ModuleInstallation kubectl sees,
made as the caller; one made with kubectl is listed by the API; its progress is read back from
the object; another tenant's caller is refused; bad input is 400 naming the field.

Real apiserver (TokenReview, SubjectAccessReview, impersonation), Temporal, PostgreSQL; the
operator, the worker and the API run as users run them.
"""

from __future__ import annotations

import time

import httpx
import pytest

from support.kube import Kubectl
from support.objects import installation_doc, module_doc, wait_condition, wait_phase
from support.tenants import Tenant, problem_of

pytestmark = pytest.mark.usefixtures("operator", "worker", "api")


def test_install_through_the_api_and_kubectl_alike(
    kubectl: Kubectl, namespace: str, other_namespace: str, api_url: str, unique: str
) -> None:
    module_id = f"apimod-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    wait_condition(kubectl, f"module/{module_id}-1-0-0", "Ready")
    alice = Tenant(kubectl, namespace, reads_catalog=False)
    bob = Tenant(kubectl, other_namespace, reads_catalog=False)
    http = httpx.Client(timeout=30)
    order = {"tenant_id": namespace, "module_id": module_id, "configuration": {"a": 1}}

    assert "bearer token" in problem_of(http.post(f"{api_url}/modules/install", json=order), 401)
    assert f"may not create moduleinstallations in namespace {namespace}" in problem_of(
        http.post(f"{api_url}/modules/install", json=order, headers=bob.headers), 403
    )
    assert "module_id" in problem_of(
        http.post(
            f"{api_url}/modules/install",
            json={**order, "module_id": "Not A Module"},
            headers=alice.headers,
        ),
        400,
    )

    started = http.post(f"{api_url}/modules/install", json=order, headers=alice.headers)
    assert started.status_code == 202, started.text
    answer = started.json()
    assert answer["type"] == "Asynchronous"
    assert answer["instance_id"] == f"{namespace}:{module_id}"
    assert answer["operation_id"] == f"{namespace}:{module_id}:1"
    assert answer["estimated_duration_seconds"] > 0
    # it is a ModuleInstallation, made as the caller
    made = kubectl.json("get", "mi", module_id, "--show-managed-fields")
    assert made["spec"]["configuration"] == {"a": 1}
    managers = {entry["manager"] for entry in made["metadata"]["managedFields"]}
    assert "adx-module-api" in managers
    assert "already exists" in problem_of(  # a second install of the same name
        http.post(f"{api_url}/modules/install", json=order, headers=alice.headers), 409
    )

    status_url = api_url.removesuffix("/api/v1") + answer["status_url"]
    deadline = time.monotonic() + 120
    progress = http.get(status_url, headers=alice.headers).json()
    while progress["state"] == "running" and time.monotonic() < deadline:
        time.sleep(1)
        progress = http.get(status_url, headers=alice.headers).json()
    assert progress["state"] == "succeeded", progress
    assert progress["phase"] == "Active"
    assert "may not get moduleinstallations" in problem_of(
        http.get(status_url, headers=bob.headers), 403
    )

    # made with kubectl, listed by the API (and the API's, by kubectl)
    kubectl.apply(installation_doc("by-kubectl", module_id))
    wait_phase(kubectl, "mi/by-kubectl", "Active", timeout=120)
    listed = http.get(f"{api_url}/tenants/{namespace}/modules", headers=alice.headers).json()
    shown = {m["name"]: m for m in listed["modules"]}
    assert set(shown) == {module_id, "by-kubectl"}
    assert shown[module_id]["phase"] == "Active"
    assert shown[module_id]["installed_version"] == "1.0.0"
    assert shown[module_id]["ready"] is True
    assert "may not list moduleinstallations" in problem_of(
        http.get(f"{api_url}/tenants/{namespace}/modules", headers=bob.headers), 403
    )
    health = http.get(
        f"{api_url}/modules/{namespace}:{module_id}/health", headers=alice.headers
    ).json()
    assert (health["phase"], health["ready"]) == ("Active", True)
    assert "instance_id" in problem_of(
        http.get(f"{api_url}/modules/no-colon/health", headers=alice.headers), 400
    )
    # a container's use comes from the cluster's metrics API, which this cluster has not
    used = http.get(f"{api_url}/modules/{namespace}:{module_id}/resources", headers=alice.headers)
    assert used.status_code == 200, used.text
    assert used.json()["isolation"] == "container"
    assert used.json()["usage"] is None
    assert "metrics.k8s.io" in used.json()["message"]
