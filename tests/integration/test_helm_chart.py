"""The Helm chart and the plain manifests, with the real helm, kubectl, apiserver and Trivy.

Proves the chart installs (pods Running on kwok nodes, the WASM host's admin token kept across
an upgrade), refuses bad values by name, passes Trivy's configuration checks, and that its RBAC is
enough (the operator and the worker, running under the chart's ServiceAccount tokens beside the
WASM host under its own, install and uninstall a module; the host may read installations and
write their status) and no more (requests outside it are forbidden).
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.devstack.images import push_image
from adx_modules.devstack.process import free_port
from adx_modules.devstack.stack import runner_environment, wasm_host_environment
from adx_modules.devstack.toolchain import cache_dir, python_tool
from adx_modules.service.cli import author_main
from support.kube import Kubectl
from support.objects import (
    API_VERSION,
    condition,
    installation_doc,
    module_doc,
    wait_condition,
    wait_phase,
)
from support.operator import ServiceProcess
from support.stack import StackInfo
from support.tenants import Tenant

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "adx-module-operator"
LOCAL_VALUES = CHART / "ci" / "local-values.yaml"


def helm(stack: StackInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(cache_dir() / "bin" / "helm"), f"--kubeconfig={stack.kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {result.stderr}")
    return result


def render(stack: StackInfo, namespace: str, *values: str) -> str:
    return helm(
        stack,
        "template",
        "adx",
        str(CHART),
        "--namespace",
        namespace,
        "-f",
        str(LOCAL_VALUES),
        *values,
    ).stdout


def test_the_chart_lints_strictly(stack: StackInfo) -> None:
    result = helm(stack, "lint", "--strict", str(CHART), "-f", str(LOCAL_VALUES))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_the_rendered_chart_is_accepted_by_the_apiserver(
    stack: StackInfo, kubectl: Kubectl, namespace: str
) -> None:
    rendered = render(stack, namespace, "--set", "metrics.serviceMonitor.enabled=false")
    kinds = sorted({doc["kind"] for doc in yaml.safe_load_all(rendered) if doc})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    result = kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert "(server dry run)" in result.stdout


def test_the_dashboard_ships_as_a_configmap_and_every_process_logs_json(stack: StackInfo) -> None:
    docs = list(
        yaml.safe_load_all(render(stack, "adx", "--set", "metrics.grafanaDashboard.enabled=true"))
    )
    dashboards = [d for d in docs if d and d["metadata"]["name"].endswith("-dashboard")]
    assert [d["metadata"]["labels"]["grafana_dashboard"] for d in dashboards] == ["1"]
    shipped = json.loads(dashboards[0]["data"]["adx-module-operator.json"])
    assert shipped == json.loads((CHART / "dashboards" / "adx-module-operator.json").read_text())
    containers = [
        c
        for d in docs
        if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    formats = {
        e["value"]
        for c in containers
        for e in c.get("env", [])
        if e["name"] == "ADX_SERVER_LOG_FORMAT"
    }
    assert containers
    assert formats == {"json"}
    assert not any(
        d and d["metadata"]["name"].endswith("-dashboard")
        for d in yaml.safe_load_all(render(stack, "adx"))
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("temporal.address=nope", "at '/temporal/address': 'nope' does not match pattern"),
        ("security.minSecurityScore=101", "at '/security/minSecurityScore': maximum: got 101"),
        ("sandbox.defaultIsolation=vm", "at '/sandbox/defaultIsolation'"),
        ("operator.replicas=-1", "at '/operator/replicas'"),
        ("image.pullPolicy=Sometimes", "at '/image/pullPolicy'"),
        # two operator replicas (the default) would both act without it
        ("operator.leaderElection=false", "operator.replicas above 1 needs operator.leaderElec"),
        ("colour=blue", "additional properties 'colour' not allowed"),
        ("logFormat=xml", "at '/logFormat'"),
    ],
)
def test_values_that_break_the_schema_are_refused_by_name(
    stack: StackInfo, value: str, says: str
) -> None:
    result = helm(
        stack, "template", "adx", str(CHART), "-f", str(LOCAL_VALUES), "--set", value, check=False
    )
    assert result.returncode != 0
    assert says in result.stderr


def test_no_database_is_refused_with_a_clear_message(stack: StackInfo) -> None:
    result = helm(stack, "template", "adx", str(CHART), check=False)
    assert result.returncode != 0
    assert "set database.url, or database.existingSecret with the DSN" in result.stderr


def _trivy_high(target: Path, cache: Path, *, accepted: bool = True) -> list[str]:
    """HIGH and CRITICAL misconfigurations Trivy finds (minus the accepted ones, by default)."""
    ignore = ["--ignorefile", str(CHART / "trivyignore.yaml")] if accepted else []
    result = subprocess.run(
        [
            str(python_tool("trivy")),
            "config",
            "--cache-dir",
            str(cache),
            "--skip-check-update",
            "--severity",
            "HIGH,CRITICAL",
            "--format",
            "json",
            "--quiet",
            *ignore,
            str(target),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    return [
        f"{r['Target']}: {m['ID']} {m['Title']}"
        for r in report.get("Results", [])
        for m in r.get("Misconfigurations", [])
        if m.get("Status") == "FAIL"
    ]


def test_the_accepted_trivy_finding_is_the_only_one(stack: StackInfo, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    (rendered / "chart.yaml").write_text(render(stack, "adx-system"))
    found = {line.split()[1] for line in _trivy_high(rendered, tmp_path / "cache", accepted=False)}
    assert found == {"KSV-0056"}  # managing Services and NetworkPolicies: see trivyignore.yaml


def test_trivy_finds_nothing_high_or_critical_in_the_chart_and_the_dockerfile(
    stack: StackInfo, tmp_path: Path
) -> None:
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    (rendered / "chart.yaml").write_text(render(stack, "adx-system"))
    assert _trivy_high(rendered, tmp_path / "cache") == []
    for image in ("operator", "runner"):  # the service's image, the module runner's
        dockerfiles = tmp_path / image
        dockerfiles.mkdir()
        (dockerfiles / "Dockerfile").write_text(
            (ROOT / "sandbox-images" / image / "Dockerfile").read_text()
        )
        assert _trivy_high(dockerfiles, tmp_path / "cache") == [], image


@pytest.fixture
def release(stack: StackInfo, namespace: str) -> Iterator[str]:
    """The chart installed with ``helm install --wait`` into the test's namespace."""
    name = f"adx-{uuid.uuid4().hex[:6]}"
    helm(
        stack,
        "install",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "-f",
        str(LOCAL_VALUES),
        "--wait",
        "--timeout",
        "3m",
    )
    yield name
    helm(stack, "uninstall", name, "--namespace", namespace, check=False)


def test_helm_install_runs_the_operator_and_the_worker_on_kwok_nodes(
    stack: StackInfo, kubectl: Kubectl, namespace: str, release: str
) -> None:
    pods = kubectl.json("get", "pods", "-l", f"app.kubernetes.io/instance={release}")["items"]
    components = sorted(p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods)
    assert components == ["api", "operator", "operator", "wasm-host", "worker"]
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        security = pod["spec"]["containers"][0]["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
    # the admin token: generated once, the same for the worker and the host, kept on upgrade
    secret = f"{release}-adx-module-operator-wasm-admin-token"
    token = kubectl.json("get", "secret", secret)["data"]["token"]
    assert len(base64.b64decode(token)) == 32
    for pod in pods:
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
        reads_token = "ADX_WASM_ADMIN_TOKEN" in env
        if component == "operator":  # its Lease lives in the release's namespace
            own_namespace = env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"]
            assert own_namespace == "metadata.namespace"
            assert env["ADX_OPERATOR_LEADER_ELECTION"]["value"] == "true"
        assert reads_token == (component not in ("operator", "api"))
        # the marketplace's settings (and, when set, its secrets): workers and the API only
        assert ("ADX_MARKETPLACE_REVOCATION_POLICY" in env) == (component in ("worker", "api"))
        if reads_token:
            ref = env["ADX_WASM_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": secret, "key": "token"}
    helm(stack, "upgrade", release, str(CHART), "--namespace", namespace, "-f", str(LOCAL_VALUES))
    assert kubectl.json("get", "secret", secret)["data"]["token"] == token


def _token_kubeconfig(stack: StackInfo, kubectl: Kubectl, account: str, path: Path) -> Path:
    token = kubectl("create", "token", account, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(stack.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": account}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_chart_rbac_is_enough_to_install_and_uninstall_and_no_more(
    stack: StackInfo, kubectl: Kubectl, release: str, tmp_path: Path, unique: str
) -> None:
    identities = {
        role: _token_kubeconfig(
            stack, kubectl, f"{release}-adx-module-operator-{role}", tmp_path / f"{role}.kubeconfig"
        )
        for role in ("operator", "worker", "wasm-host")
    }
    env = {
        **stack.env,
        **wasm_host_environment(None, None),
        "ADX_TEMPORAL_TASK_QUEUE": f"rbac-{unique}",
        "ADX_DATABASE_SCHEMA_NAME": f"rbac_{unique}",
        "POD_NAMESPACE": str(kubectl.namespace),  # as the chart sets it: the Lease lives there
        "ADX_SECURITY_SCAN_CACHE_DIR": str(tmp_path / "trivy"),
        "ADX_WASM_CACHE_DIR": str(tmp_path / "wasm-cache"),
    }
    processes = [
        ServiceProcess(
            role,
            {**env, "KUBECONFIG": str(path)},
            tmp_path / f"{role}.log",
            ready_url=f"{env['ADX_WASM_ADMIN_URL']}/readyz" if role == "wasm-host" else None,
        )
        for role, path in identities.items()
    ]
    tenant = f"t-rbac-{unique}"
    admin = Kubectl(stack.kubeconfig)
    admin("create", "namespace", tenant)
    module_id = f"rbac-{unique}"
    try:
        for process in processes:
            process.start()
        # scanned as in production: the worker fetches the image and writes the verdict
        image = push_image(
            stack.env["ADX_REGISTRY_ADDRESS"],
            f"adx-tests/{module_id}",
            "1.0.0",
            {"module": b"rbac\n"},
            insecure=True,
        )
        admin.apply(
            module_doc(
                module_id,
                "1.0.0",
                extensionPoints={"api": [{"path": "/rbac", "port": 8080}]},
                artifact={"image": {"reference": image}},
            )
        )
        scanned = wait_condition(admin, f"module/{module_id}-1-0-0", "Ready", timeout=120)
        assert scanned["status"]["scannedReference"] == image
        in_tenant = Kubectl(stack.kubeconfig, tenant)
        in_tenant.apply(installation_doc("rbac", module_id, configuration={"x": 1}))
        active = wait_phase(in_tenant, "mi/rbac", "Active", timeout=120)
        assert condition(active, "Ready")["status"] == "True"
        in_tenant("delete", "mi", "rbac", "--timeout=90s")
        assert (
            in_tenant.json(
                "get",
                "deployments,services,configmaps",
                "-l",
                "modules.adxcore.com/installation=rbac",
            )["items"]
            == []
        )
        # refusals by RBAC only (an Event into a namespace being deleted is refused too: not ours)
        refused = [
            line
            for p in processes
            for line in p.log().splitlines()
            if ("forbidden" in line.lower() or " 403" in line) and "is being terminated" not in line
        ]
        assert not refused, "\n".join(refused[:5])
    finally:
        for process in processes:
            process.stop()
        admin("delete", "namespace", tenant, "--wait=false", check=False)
        admin("delete", "module", f"{module_id}-1-0-0", "--wait=false", check=False)

    as_operator = Kubectl(identities["operator"], tenant)
    as_worker = Kubectl(identities["worker"], tenant)
    as_host = Kubectl(identities["wasm-host"], tenant)
    # the host's whole grant: read installations, write their status (each one's health)
    for verb, resource, *subresource in (
        ("get", "moduleinstallations"),
        ("list", "moduleinstallations"),
        ("watch", "moduleinstallations"),
        ("get", "moduleinstallations", "--subresource=status"),
        ("patch", "moduleinstallations", "--subresource=status"),
    ):
        answer = as_host(
            "auth", "can-i", verb, resource, *subresource, "--all-namespaces", check=False
        ).stdout.strip()
        assert answer == "yes", f"the wasm host may not {verb} {resource} {subresource}"
    # the operator's Lease (leader election): written in the release's namespace only; read and
    # watched anywhere (Kopf watches cluster-wide, a field selector keeps it to that one Lease)
    home = str(kubectl.namespace)
    for verb, where, allowed in (
        ("get", home, "yes"),
        ("create", home, "yes"),
        ("update", home, "yes"),
        ("watch", "kube-system", "yes"),
        ("delete", home, "no"),
        ("create", "kube-system", "no"),
        ("update", "kube-system", "no"),
    ):
        answer = Kubectl(identities["operator"], where)(
            "auth", "can-i", verb, "leases.coordination.k8s.io", check=False
        ).stdout.strip()
        assert answer == allowed, f"the operator: {verb} leases in {where}? {answer}"
    for who, verb, resource in (
        (as_operator, "create", "deployments"),
        (as_operator, "get", "secrets"),
        (as_worker, "get", "secrets"),
        (as_worker, "delete", "nodes"),
        (as_worker, "create", "roles"),
        (as_worker, "delete", "modules"),
        (as_host, "get", "secrets"),
        (as_host, "get", "modules"),
        (as_host, "patch", "moduleinstallations"),
        (as_host, "create", "moduleinstallations"),
        (as_host, "delete", "moduleinstallations"),
        (as_host, "update", "moduleinstallations"),
        (as_host, "create", "events"),
        (as_host, "list", "pods"),
        (as_host, "create", "deployments"),
    ):
        answer = who(
            "auth", "can-i", verb, resource, "--all-namespaces", check=False
        ).stdout.strip()
        assert answer == "no", f"{who.kubeconfig.stem} may {verb} {resource}"
    refused = as_worker("get", "secrets", "-n", "kube-system", check=False)
    assert "forbidden" in refused.stderr


def _resolved_env(admin: Kubectl, namespace: str, container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as its pod would see it (Secret references read)."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "valueFrom" not in item:  # an empty value is stored as no value
            env[item["name"]] = item.get("value", "")
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        data = admin.json("get", "secret", ref["name"], "-n", namespace)["data"]
        env[item["name"]] = base64.b64decode(data[ref["key"]]).decode()
    return env


def _publish_greeter(
    stack: StackInfo, admin: Kubectl, module_id: str, work: Path
) -> dict[str, Any]:
    """``adx-module-cli init``, package and publish a Python module; apply its Module."""
    assert author_main(["init", module_id, "--dir", str(work)]) == 0
    package = build(work / "manifest.json", work / f"{module_id}.adx")
    published = publish(package.path, stack.env["ADX_REGISTRY_ADDRESS"], insecure=True)
    admin.apply({**published.module, "apiVersion": API_VERSION})
    name = published.module["metadata"]["name"]
    admin("wait", f"module/{name}", "--for=condition=Ready", "--timeout=60s")
    return published.module


def test_a_tenants_process_modules_run_in_a_runner_deployment_made_from_the_chart(  # noqa: PLR0917
    stack: StackInfo, kubectl: Kubectl, namespace: str, release: str, tmp_path: Path, unique: str
) -> None:
    """The worker, under the chart's identity and with the chart's runner template, makes the
    tenant's runner Deployment; the runner that Deployment describes (its environment, token
    and ServiceAccount, run here as a local process: kwok runs no containers) serves the module;
    the tenant's last uninstall removes the Deployment and its Service."""
    fullname = f"{release}-adx-module-operator"
    admin = Kubectl(stack.kubeconfig)
    template = kubectl.json("get", "configmap", f"{fullname}-runner-template")
    (tmp_path / "runner.yaml").write_text(template["data"]["deployment.yaml"])
    worker = kubectl.json("get", "deployment", f"{fullname}-worker")
    worker_env = _resolved_env(
        admin, namespace, worker["spec"]["template"]["spec"]["containers"][0]
    )
    assert worker_env["ADX_RUNNER_DEPLOYMENT_TEMPLATE"] == "/etc/adx/runner/deployment.yaml"
    local = runner_environment(None, None)
    stack_part = {
        **stack.env,
        "ADX_TEMPORAL_TASK_QUEUE": f"runner-{unique}",
        "ADX_DATABASE_SCHEMA_NAME": f"runner_{unique}",
        "POD_NAMESPACE": namespace,  # as the chart sets it: the operator's Lease lives there
    }
    env = {
        **stack_part,
        "ADX_SECURITY_SCANNING_ENABLED": "false",
        "ADX_RUNNER_DEPLOYMENT_TEMPLATE": str(tmp_path / "runner.yaml"),
        # the template's {service}.{namespace}.svc does not resolve here: the runner's own port
        "ADX_RUNNER_ADMIN_URL": local["ADX_RUNNER_ADMIN_URL"],
        "ADX_RUNNER_INVOKE_URL": local["ADX_RUNNER_INVOKE_URL"],
        "ADX_RUNNER_ADMIN_TOKEN": worker_env["ADX_RUNNER_ADMIN_TOKEN"],
    }
    identities = {
        role: _token_kubeconfig(
            stack, kubectl, f"{fullname}-{role}", tmp_path / f"{role}.kubeconfig"
        )
        for role in ("operator", "worker", "runner")
    }
    processes = [
        ServiceProcess(role, {**env, "KUBECONFIG": str(identities[role])}, tmp_path / f"{role}.log")
        for role in ("operator", "worker")
    ]
    tenant = f"t-runner-{unique}"
    admin("create", "namespace", tenant)
    module_id = f"greeter-{unique}"
    runner_name = f"adx-runner-{tenant}"
    module: dict[str, Any] = {}
    try:
        for process in processes:
            process.start()
        module = _publish_greeter(stack, admin, module_id, tmp_path / "greeter")
        in_tenant = Kubectl(stack.kubeconfig, tenant)
        in_tenant.apply(
            installation_doc(
                "greeter",
                module_id,
                isolation="process",
                approvedPermissions=module["spec"]["permissions"],
            )
        )

        def made() -> dict[str, Any] | None:
            found = kubectl("get", "deployment", runner_name, "-o", "json", check=False)
            return json.loads(found.stdout) if found.returncode == 0 else None

        deployment = kubectl.wait_for(made, 120)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"{fullname}-runner"
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        service = kubectl.json("get", "service", runner_name)
        assert [p["name"] for p in service["spec"]["ports"]] == ["invoke", "admin"]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        runner_env = _resolved_env(admin, namespace, pod["containers"][0])
        assert runner_env["ADX_RUNNER_TENANT"] == tenant
        assert runner_env["ADX_RUNNER_ADMIN_TOKEN"] == worker_env["ADX_RUNNER_ADMIN_TOKEN"]
        runner = ServiceProcess(
            "runner",
            {
                **runner_env,
                **stack_part,
                **{k: v for k, v in local.items() if "TOKEN" not in k},
                "ADX_RUNNER_WORK_DIR": str(tmp_path / "work"),
                "KUBECONFIG": str(identities["runner"]),
            },
            tmp_path / "runner.log",
            ready_url=f"{local['ADX_RUNNER_ADMIN_URL']}/readyz",
        )
        processes.append(runner)
        runner.start()
        active = wait_phase(in_tenant, "mi/greeter", "Active", timeout=120)
        endpoint = active["status"]["endpoints"][0]["url"]
        answer = httpx.post(f"{endpoint}/greet", json={"name": "Ada"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"message": "hello, Ada"}
        # the tenant's runner serves no other tenant
        other = httpx.put(
            f"{local['ADX_RUNNER_ADMIN_URL']}/admin/v1/installations/elsewhere/x",
            headers={"Authorization": f"Bearer {runner_env['ADX_RUNNER_ADMIN_TOKEN']}"},
            timeout=30,
        )
        assert other.status_code == 404
        assert other.json()["reason"] == "OtherTenant"
        # a worker that starts makes every tenant's runner again (after a chart upgrade, or
        # when one was deleted by hand, as here); nothing else would: the install is done
        kubectl("delete", "deployment", runner_name, "--wait=true")
        processes[1].stop()
        processes[1].start()
        again = kubectl.wait_for(made, 60)
        assert again["metadata"]["uid"] != deployment["metadata"]["uid"]

        in_tenant("delete", "mi", "greeter", "--timeout=120s")
        selector = f"modules.adxcore.com/tenant={tenant}"
        assert kubectl.json("get", "deployments,services", "-l", selector)["items"] == []
        refused = [
            line
            for p in processes
            for line in p.log().splitlines()
            if "Forbidden" in line or " 403" in line
        ]
        assert not refused, "\n".join(refused[:5])
    finally:
        for process in processes:
            process.stop()
        admin("delete", "namespace", tenant, "--wait=false", check=False)
        if module:
            admin("delete", "module", module["metadata"]["name"], "--wait=false", check=False)

    # the runners' whole grant: read installations, write their status (each one's health)
    as_runner = Kubectl(identities["runner"], tenant)
    for verb, resource, *subresource in (
        ("list", "moduleinstallations"),
        ("patch", "moduleinstallations", "--subresource=status"),
    ):
        answer = as_runner(
            "auth", "can-i", verb, resource, *subresource, "--all-namespaces", check=False
        ).stdout.strip()
        assert answer == "yes", f"the runner may not {verb} {resource} {subresource}"
    for verb, resource in (
        ("get", "secrets"),
        ("create", "deployments"),
        ("patch", "moduleinstallations"),
        ("create", "events"),
        ("get", "modules"),
    ):
        answer = as_runner("auth", "can-i", verb, resource, "--all-namespaces", check=False)
        assert answer.stdout.strip() == "no", f"the runner may {verb} {resource}"


def test_the_kustomize_base_is_the_rendered_chart(stack: StackInfo) -> None:
    rendered = helm(
        stack,
        "template",
        "adx-module-operator",
        str(CHART),
        "--namespace",
        "adx-system",
        "--set",
        "database.existingSecret=adx-module-operator-database",
        "--set",
        "wasmHost.adminTokenSecret=adx-module-operator-wasm-admin-token",
        "--set",
        "runner.adminTokenSecret=adx-module-operator-runner-admin-token",
    ).stdout
    committed = (ROOT / "manifests" / "base" / "install.yaml").read_text()
    assert committed == rendered, "manifests/base/install.yaml is stale: run 'make manifests'"


def test_kubectl_apply_k_installs_the_base_with_its_dev_overlay(stack: StackInfo) -> None:
    admin = Kubectl(stack.kubeconfig)
    admin("apply", "--server-side", "-k", str(ROOT / "manifests" / "overlays" / "dev"))
    try:
        in_system = Kubectl(stack.kubeconfig, "adx-system")
        in_system("rollout", "status", "deployment/adx-module-operator-operator", "--timeout=120s")
        in_system("rollout", "status", "deployment/adx-module-operator-worker", "--timeout=120s")
        in_system("rollout", "status", "deployment/adx-module-operator-wasm-host", "--timeout=120s")
        secret = in_system.json("get", "secret", "adx-module-operator-database")
        assert "url" in secret["data"]
        for name in ("wasm", "runner"):
            token = in_system.json("get", "secret", f"adx-module-operator-{name}-admin-token")
            assert "token" in token["data"]
        template = in_system.json("get", "configmap", "adx-module-operator-runner-template")
        assert "kind: Deployment" in template["data"]["deployment.yaml"]
    finally:
        # not `delete -k`: that would delete the CRDs, and with them every module of the session
        admin("delete", "namespace", "adx-system", "--wait=false", check=False)
        admin(
            "delete",
            "clusterrole,clusterrolebinding",
            "-l",
            "app.kubernetes.io/instance=adx-module-operator",
            check=False,
        )


def test_the_api_under_the_charts_identity_reviews_tokens_asks_rbac_and_acts_as_the_caller(
    stack: StackInfo, kubectl: Kubectl, release: str, tmp_path: Path, unique: str
) -> None:
    identity = _token_kubeconfig(
        stack, kubectl, f"{release}-adx-module-operator-api", tmp_path / "api.kubeconfig"
    )
    port = free_port(None)
    api = ServiceProcess(
        "api",
        {
            **stack.env,
            "KUBECONFIG": str(identity),
            "ADX_SERVER_HOST": "127.0.0.1",
            "ADX_SERVER_PORT": str(port),
            "ADX_DATABASE_SCHEMA_NAME": f"api_{unique}",
        },
        tmp_path / "api.log",
        ready_url=f"http://127.0.0.1:{port}/health",
    )
    admin = Kubectl(stack.kubeconfig)
    tenant, other = f"t-api-{unique}", f"t-other-{unique}"
    for name in (tenant, other):
        admin("create", "namespace", name)
    try:
        caller = Tenant(admin, tenant, reads_catalog=False)
        api.start()
        base = f"http://127.0.0.1:{port}/api/v1"
        admin.apply(
            {
                **installation_doc("seen", "anything"),
                "metadata": {"name": "seen", "namespace": tenant},
            }
        )
        mine = httpx.get(f"{base}/tenants/{tenant}/modules", headers=caller.headers, timeout=30)
        assert mine.status_code == 200, mine.text
        assert [m["name"] for m in mine.json()["modules"]] == ["seen"]
        theirs = httpx.get(f"{base}/tenants/{other}/modules", headers=caller.headers, timeout=30)
        assert theirs.status_code == 403, theirs.text
        # the API's own requests (reviews, impersonated reads) were all allowed
        refused = [line for line in api.log().splitlines() if "is forbidden" in line]
        assert not refused, "\n".join(refused[:5])
    finally:
        api.stop()
        for name in (tenant, other):
            admin("delete", "namespace", name, "--wait=false", check=False)
    as_api = Kubectl(identity, tenant)
    for verb, resource in (
        ("get", "secrets"),
        ("create", "moduleinstallations"),
        ("list", "moduleinstallations"),
        ("delete", "modules"),
    ):
        answer = as_api("auth", "can-i", verb, resource, "--all-namespaces", check=False)
        assert answer.stdout.strip() == "no", f"the API may {verb} {resource} on its own"
