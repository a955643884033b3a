"""Tenants of the HTTP API's tests: a namespace, a ServiceAccount that may act there, its
token; and how a refusal must look (problem+json)."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.kube import Kubectl

GROUP = "modules.adxcore.com"


def tenant_role(namespace: str) -> list[dict[str, Any]]:
    """What a tenant's buyer may do in its namespace: install, update and uninstall modules,
    buy, review."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "buyer", "namespace": namespace},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["moduleinstallations"],
                    "verbs": ["get", "list", "watch", "create", "patch", "delete"],
                },
                {
                    "apiGroups": [GROUP],
                    "resources": ["purchases", "reviews"],
                    "verbs": ["get", "create", "update", "delete"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "buyer", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "buyer"},
            "subjects": [{"kind": "ServiceAccount", "name": "buyer", "namespace": namespace}],
        },
    ]


def catalog_reader_role() -> dict[str, Any]:
    """The ClusterRole ``catalog_reader`` binds: read listings and modules."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "adx-test-catalog-reader"},
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": ["marketplacelistings", "modules"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }


def catalog_reader(namespace: str, name: str) -> list[dict[str, Any]]:
    """Reading the catalog: listings and modules, cluster-wide."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "adx-test-catalog-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "buyer", "namespace": namespace}],
        }
    ]


def token_kubeconfig(admin: Path, token: str, directory: Path) -> Path:
    """A kubeconfig holding ``token`` and nothing else of the admin's (whose client
    certificate the apiserver would believe first): kubectl then acts as the token's user."""
    cluster = yaml.safe_load(admin.read_text())["clusters"][0]["cluster"]
    ca = directory / "ca.crt"
    if "certificate-authority-data" in cluster:
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    else:
        ca = Path(cluster["certificate-authority"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": cluster["server"], "certificate-authority": str(ca)},
            }
        ],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "u", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "u",
    }
    path = directory / f"token-{hashlib.sha256(token.encode()).hexdigest()[:12]}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


class Tenant:
    """A tenant namespace with a ServiceAccount ``buyer`` that may buy there, and its token."""

    def __init__(self, kubectl: Kubectl, namespace: str, reads_catalog: bool = True) -> None:
        self.namespace = namespace
        here = Kubectl(kubectl.kubeconfig, namespace)
        here("create", "serviceaccount", "buyer")
        here.apply(*tenant_role(namespace))
        if reads_catalog:
            here.apply(*catalog_reader(namespace, f"catalog-{namespace}"))
        self.user = f"system:serviceaccount:{namespace}:buyer"
        self.token = here("create", "token", "buyer").stdout.strip()
        self.kubeconfig = token_kubeconfig(
            Path(kubectl.kubeconfig), self.token, Path(tempfile.mkdtemp(prefix="adx-tenant-"))
        )

    @property
    def kubectl(self) -> Kubectl:
        """kubectl as this tenant (its token only)."""
        return Kubectl(self.kubeconfig)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def problem_of(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == status
    return str(body["detail"])
