"""A real Kubernetes control plane on loopback: etcd, apiserver, controllers, scheduler, kwok.

Why it exists: the operator's integration tests and ``make run`` need the genuine API machinery
(CRD validation with CEL, RBAC, admission with Pod Security, garbage collection, Deployment ->
ReplicaSet -> Pod) without a container engine. kwok stands in for the kubelet: it keeps fake
nodes Ready and moves their Pods to Running, so workloads behave as on a real cluster.

``kwokctl --runtime binary`` works offline with local binaries, but runs the components as
daemons that outlive it; this launcher's children die with it, every component has its own
identity, and every flag is in one place (docs/devstack.md says more).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.pki import (
    SERVICE_IP,
    CertificateAuthority,
    KeyPair,
    service_account_keys,
    write_kubeconfig,
)
from adx_modules.devstack.process import ManagedProcess, free_port
from adx_modules.devstack.toolchain import KWOK, assets_file

SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.0.128.0/17"
NODE_LABEL = "type"
NODE_LABEL_VALUE = "kwok"
# writes only, their metadata (who, what, the answer); reads and watches are not logged
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""


@dataclass(frozen=True)
class Endpoint:
    """How to reach the apiserver with a given identity."""

    url: str
    ca: Path
    client: KeyPair

    def http(self, timeout: float = 10.0) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client.cert), str(self.client.key))
        return httpx.Client(base_url=self.url, verify=context, timeout=timeout)


def fake_node(name: str) -> dict[str, Any]:
    """A Node that kwok manages (annotation ``kwok.x-k8s.io/node: fake``) and reports Ready."""
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "250"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/agent": "",
                NODE_LABEL: NODE_LABEL_VALUE,
            },
        },
        "spec": {},
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
        },
    }


class ControlPlane:
    """Starts and stops the control plane; its state (etcd data, certificates) sits in state_dir."""

    def __init__(
        self, state_dir: Path, bin_dir: Path, nodes: int = 1, *, audit: bool = False
    ) -> None:
        self.state_dir = state_dir
        self.bin_dir = bin_dir
        self.nodes = [f"kwok-node-{index}" for index in range(nodes)]
        self.logs = state_dir / "logs"
        self.pki_dir = state_dir / "pki"
        self.processes: list[ManagedProcess] = []
        self.ca = CertificateAuthority(self.pki_dir)
        self.apiserver_port = free_port(None)
        self.admin_kubeconfig = state_dir / "kubeconfig"
        # with ``audit``, every write the apiserver serves is logged (one JSON line each, with
        # its user agent): benchmarks count whose writes they were
        self.audit_log: Path | None = state_dir / "audit.log" if audit else None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def endpoint(self, client: KeyPair) -> Endpoint:
        return Endpoint(self.url, self.ca.files.cert, client)

    @property
    def admin(self) -> Endpoint:
        return self.endpoint(self.ca.issue("admin", "adx-admin", organizations=("system:masters",)))

    def _kubeconfig_for(self, name: str, common_name: str, orgs: tuple[str, ...] = ()) -> Path:
        client = self.ca.issue(name, common_name, organizations=orgs)
        return write_kubeconfig(
            self.pki_dir / f"{name}.kubeconfig", self.url, self.ca.files.cert, client, common_name
        )

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.logs / f"{name}.log", cwd=self.state_dir)
        self.processes.append(process)
        process.start()
        return process

    def start(self, timeout: float = 120.0) -> None:
        """Start every component and wait until the fake nodes are Ready."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_etcd(timeout)
            self._start_apiserver(timeout)
            self._start_controllers(timeout)
            self._start_kwok(timeout)
        except BaseException:
            self.stop()
            raise
        write_kubeconfig(
            self.admin_kubeconfig, self.url, self.ca.files.cert, self.admin.client, "adx-admin"
        )

    def _start_etcd(self, timeout: float) -> None:
        client_port, peer_port = free_port(None), free_port(None)
        peer = f"http://127.0.0.1:{peer_port}"
        self.etcd_url = f"http://127.0.0.1:{client_port}"
        etcd = self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=adx",
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=adx={peer}",
                "--unsafe-no-fsync",  # a throw-away dev cluster: speed over durability
                "--log-level=warn",
            ],
        )
        etcd.wait_until(
            lambda: httpx.get(f"{self.etcd_url}/health", timeout=1).json()["health"] == "true",
            timeout,
            "healthy",
        )

    def _start_apiserver(self, timeout: float) -> None:
        serving = self.ca.issue(
            "apiserver",
            "kube-apiserver",
            server_names=(
                "127.0.0.1",
                "localhost",
                SERVICE_IP,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
        )
        service_accounts = service_account_keys(self.pki_dir)
        # the aggregation layer's identity, so controllers find a complete authentication config
        front_proxy_ca = CertificateAuthority(self.pki_dir / "front-proxy")
        front_proxy = front_proxy_ca.issue("front-proxy-client", "front-proxy-client")
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={self.ca.files.cert}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={service_accounts.cert}",
                f"--service-account-signing-key-file={service_accounts.key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--requestheader-client-ca-file={front_proxy_ca.files.cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={front_proxy.cert}",
                f"--proxy-client-key-file={front_proxy.key}",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",  # loopback may not be a Service endpoint
                "--profiling=false",
                *self._audit_args(),
            ],
        )

        def ready() -> bool:
            with self.admin.http(timeout=2) as client:
                return client.get("/readyz").status_code == 200

        apiserver.wait_until(ready, timeout, "ready (/readyz)")

    def _audit_args(self) -> list[str]:
        if self.audit_log is None:
            return []
        policy = self.state_dir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        return [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-maxsize=0",  # never rotated: a reader keeps its offset
        ]

    def _start_controllers(self, timeout: float) -> None:
        service_accounts = service_account_keys(self.pki_dir)
        kcm_config = self._kubeconfig_for(
            "kube-controller-manager", "system:kube-controller-manager"
        )
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kcm_config}",
                f"--authentication-kubeconfig={kcm_config}",
                f"--authorization-kubeconfig={kcm_config}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port(None)}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={service_accounts.key}",
                f"--root-ca-file={self.ca.files.cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-gc-syncs=40",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ],
        )
        scheduler_config = self._kubeconfig_for("kube-scheduler", "system:kube-scheduler")
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                f"--kubeconfig={scheduler_config}",
                f"--authentication-kubeconfig={scheduler_config}",
                f"--authorization-kubeconfig={scheduler_config}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port(None)}",
                "--leader-elect=false",
            ],
        )
        # the token and service-account controllers are up once ``default`` has its account
        with self.admin.http() as client:
            self.processes[-2].wait_until(
                lambda: (
                    client.get("/api/v1/namespaces/default/serviceaccounts/default").status_code
                    == 200
                ),
                timeout,
                "running (no default ServiceAccount yet)",
            )

    def _start_kwok(self, timeout: float) -> None:
        kwok_config = self._kubeconfig_for("kwok", "kwok-controller", ("system:masters",))
        kwok = self._spawn(
            "kwok",
            [
                str(self.bin_dir / "kwok"),
                f"--kubeconfig={kwok_config}",
                f"--config={assets_file(KWOK, self.bin_dir)}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{free_port(None)}",
            ],
        )
        with self.admin.http() as client:
            for node in self.nodes:
                response = client.post("/api/v1/nodes", json=fake_node(node))
                if response.status_code not in (201, 409):
                    raise DevStackError(f"creating node {node} failed: {response.text}")
            kwok.wait_until(lambda: self._nodes_ready(client), timeout, "reporting nodes Ready")

    def _nodes_ready(self, client: httpx.Client) -> bool:
        for node in self.nodes:
            status = client.get(f"/api/v1/nodes/{node}").json().get("status", {})
            ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
            if not ready or ready[0]["status"] != "True":
                return False
        return True

    def stop(self) -> None:
        """Stop in reverse order of start; nothing is left running."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
