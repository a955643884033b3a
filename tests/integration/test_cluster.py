"""The local control plane is the real thing: version, RBAC, workloads on kwok, GC, admission."""

from __future__ import annotations

from typing import Any

from support.kube import Kubectl
from support.stack import StackInfo


def test_apiserver_reports_its_real_version(kubectl: Kubectl) -> None:
    version = kubectl.json("version")["serverVersion"]
    assert version["gitVersion"] == "v1.37.2"
    assert (version["major"], version["minor"]) == ("1", "37")


def test_rbac_forbids_a_user_without_a_role_and_allows_one_with_it(
    stack: StackInfo, kubectl: Kubectl, namespace: str, unique: str
) -> None:
    user = f"developer-{unique}"
    as_user = Kubectl(stack.mint_user(user, ("developers",)), namespace)

    refused = as_user("create", "deployment", "web", "--image=registry.local/web:1", check=False)
    assert refused.returncode != 0
    assert f'User "{user}" cannot create resource "deployments"' in refused.stderr

    kubectl("create", "rolebinding", "developer-edit", "--clusterrole=edit", f"--user={user}")
    # the authorizer learns of the binding through a watch: allow it a moment
    as_user.wait_for(
        lambda: (
            as_user("auth", "can-i", "create", "deployments", check=False).stdout.strip() == "yes"
        ),
        timeout=30,
    )
    as_user("create", "deployment", "web", "--image=registry.local/web:1")
    assert kubectl.json("get", "deployment", "web")["metadata"]["name"] == "web"

    # the binding is namespaced: elsewhere the user is still refused
    elsewhere = Kubectl(as_user.kubeconfig, "default")
    still_refused = elsewhere("create", "deployment", "web", "--image=x", check=False)
    assert "forbidden" in still_refused.stderr


def _running_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status", {})
    ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
    return status.get("phase") == "Running" and bool(ready) and ready[0]["status"] == "True"


def test_a_deployment_gets_running_ready_pods_on_a_kwok_node(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=registry.local/web:1", "--replicas=2")

    def pods_ready() -> list[dict[str, Any]]:
        pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
        return pods if len(pods) == 2 and all(_running_ready(p) for p in pods) else []

    pods = kubectl.wait_for(pods_ready, timeout=60)
    nodes = {pod["spec"]["nodeName"] for pod in pods}
    assert all(node.startswith("kwok-node-") for node in nodes)
    # the chain Deployment -> ReplicaSet -> Pod is the controller-manager's work
    owner = pods[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ReplicaSet"
    deployment = kubectl.wait_for(
        lambda: (
            (d := kubectl.json("get", "deployment", "web")).get("status", {}).get("readyReplicas")
            == 2
            and d
        )
    )
    assert deployment["status"]["availableReplicas"] == 2


def test_owner_referenced_objects_are_garbage_collected(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "owner", "--from-literal=role=owner")
    owner_uid = kubectl.json("get", "configmap", "owner")["metadata"]["uid"]
    kubectl.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "dependent",
                "namespace": kubectl.namespace,
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
                ],
            },
            "data": {"role": "dependent"},
        }
    )
    kubectl("delete", "configmap", "owner")
    kubectl.wait_for(
        lambda: "NotFound" in kubectl("get", "configmap", "dependent", check=False).stderr,
        timeout=60,
    )


def test_deleting_a_namespace_completes(stack: StackInfo, unique: str) -> None:
    admin = Kubectl(stack.kubeconfig)
    name = f"t-doomed-{unique}"
    admin("create", "namespace", name)
    in_ns = Kubectl(stack.kubeconfig, name)
    in_ns("create", "deployment", "web", "--image=registry.local/web:1")
    in_ns("create", "configmap", "settings", "--from-literal=a=b")
    admin("delete", "namespace", name, "--wait=false")
    admin.wait_for(
        lambda: "NotFound" in admin("get", "namespace", name, check=False).stderr, timeout=90
    )


def test_pod_security_restricted_rejects_a_privileged_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.local/web:1",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    refused = kubectl.create(privileged, check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "privileged" in refused.stderr
