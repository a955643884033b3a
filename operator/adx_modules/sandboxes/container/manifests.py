"""The Kubernetes objects of a module in container isolation. Pure: specs in, manifests out.

Why it exists: what a sandbox *is* (a non-root, read-only, capability-less pod that passes Pod
Security ``restricted``; its own ServiceAccount without a token; its configuration, with secret
values mounted from the tenant's own Secret; a Service for its API; a NetworkPolicy that denies
everything not declared) is decided here, once. The activities only apply what this returns.

Names are deterministic (``mod-<installation>``), so applying twice changes nothing, and every
object is owned by its ModuleInstallation, so the garbage collector removes leftovers.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.meta import API_VERSION, GROUP
from adx_modules.api.module import ModuleSpec
from adx_modules.api.types import ResourceList, ResourceRequirements
from adx_modules.catalog.configuration import configuration_hash
from adx_modules.core.refs import InstallationRef

RUN_AS = 65532  # the conventional "nonroot" user of distroless images
CONFIG_PATH = "/etc/adx/config"
SECRETS_PATH = "/etc/adx/secrets"
ALLOWED_HOSTS_KEY = f"{GROUP}/allowed-hosts"
DEFAULT_RESOURCES = ResourceRequirements(
    requests=ResourceList(cpu="50m", memory="64Mi"), limits=ResourceList(cpu="500m", memory="256Mi")
)
# every module Deployment the operator runs (labels() sets both)
SANDBOX_SELECTOR = (
    "app.kubernetes.io/managed-by=adx-module-operator,app.kubernetes.io/component=module"
)
# creation order; deletion runs in reverse
KINDS_IN_ORDER = ("ServiceAccount", "ConfigMap", "Deployment", "Service", "NetworkPolicy")


def object_name(ref: InstallationRef) -> str:
    """``mod-<installation>``: a DNS-1035 label (the CRD caps installation names at 48)."""
    return f"mod-{ref.name}"


def owned_names(ref: InstallationRef) -> list[tuple[str, str]]:
    """(kind, name) of everything this backend may create, in creation order."""
    name = object_name(ref)
    suffix = {"ConfigMap": "-config"}
    return [(kind, name + suffix.get(kind, "")) for kind in KINDS_IN_ORDER]


def owned_by(body: Mapping[str, Any], ref: InstallationRef) -> bool:
    """Whether ``body`` belongs to this very installation (its owner reference has our uid)."""
    owners = body.get("metadata", {}).get("ownerReferences") or []
    return any(owner.get("uid") == ref.uid for owner in owners)


def endpoints(ref: InstallationRef, module: ModuleSpec) -> list[dict[str, str]]:
    """Where the module's APIs answer inside the cluster (through its Service)."""
    service = f"{object_name(ref)}.{ref.namespace}.svc"
    apis = module.extension_points.api if module.extension_points else []
    return [
        {
            "name": api.path.strip("/").replace("/", "-")[:63] or "api",
            "url": f"http://{service}:{api.port}{api.path}",
        }
        for api in apis
    ]


def labels(ref: InstallationRef, module: ModuleSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": module.module_id,
        "app.kubernetes.io/instance": ref.name,
        "app.kubernetes.io/version": module.version.replace("+", "_")[:63],
        "app.kubernetes.io/component": "module",
        "app.kubernetes.io/part-of": "adx",
        "app.kubernetes.io/managed-by": "adx-module-operator",
        f"{GROUP}/module": module.module_id,
        f"{GROUP}/version": module.version.replace("+", "_")[:63],
        f"{GROUP}/tenant": ref.namespace,
        f"{GROUP}/installation": ref.name,
    }


def selector(ref: InstallationRef) -> dict[str, str]:
    return {f"{GROUP}/installation": ref.name}


def owner_reference(ref: InstallationRef) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ModuleInstallation",
        "name": ref.name,
        "uid": ref.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _merged_resources(module: ModuleSpec, spec: ModuleInstallationSpec) -> dict[str, Any]:
    def dump(requirements: ResourceRequirements | None) -> dict[str, Any]:
        return requirements.model_dump(by_alias=True, exclude_none=True) if requirements else {}

    merged = dump(DEFAULT_RESOURCES)
    for layer in (dump(module.resources), dump(spec.resources)):
        for part, amounts in layer.items():
            merged.setdefault(part, {}).update({k: str(v) for k, v in amounts.items()})
    return {part: {k: str(v) for k, v in amounts.items()} for part, amounts in merged.items()}


def _image_and_env(
    module: ModuleSpec, runner_images: Mapping[str, str]
) -> tuple[str, str | None, list[dict[str, str]]]:
    artifact = module.artifact
    env = [
        {"name": "ADX_MODULE_ID", "value": module.module_id},
        {"name": "ADX_MODULE_VERSION", "value": module.version},
        {"name": "ADX_CONFIG_FILE", "value": f"{CONFIG_PATH}/config.json"},
    ]
    if artifact.image is not None:
        return artifact.image.reference, artifact.image.pull_policy, env
    if artifact.package is not None and module.runtime in runner_images:
        source = artifact.package.url or f"oci://{artifact.package.oci}"
        env.append({"name": "ADX_PACKAGE_URL", "value": source})
        if artifact.package.sha256:
            env.append({"name": "ADX_PACKAGE_SHA256", "value": artifact.package.sha256})
        return runner_images[module.runtime], None, env
    raise ValueError(
        f"{module.module_id} {module.version} has no container image or package to run "
        f"in a container (runtime {module.runtime})"
    )


def _api_ports(module: ModuleSpec) -> list[int]:
    points = module.extension_points
    return sorted({api.port for api in points.api}) if points else []


def network_targets(permissions: list[str]) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(CIDR blocks with optional port, host names) from ``network:access:<target>``."""
    blocks: list[tuple[str, int | None]] = []
    hosts: list[str] = []
    for permission in permissions:
        resource, action, target = permission.split(":", 2)
        if (resource, action) != ("network", "access"):
            continue
        host, port = target, None
        if target.count(":") == 1:  # host:port or a.b.c.d:port (IPv6 has more colons)
            host, _, digits = target.partition(":")
            port = int(digits)
        try:
            blocks.append((str(ipaddress.ip_network(host, strict=False)), port))
        except ValueError:
            hosts.append(target)
    return blocks, hosts


def manifests(
    ref: InstallationRef,
    spec: ModuleInstallationSpec,
    module: ModuleSpec,
    *,
    runner_images: Mapping[str, str],
    platform_label: str,
) -> list[dict[str, Any]]:
    """Every object of the sandbox, in creation order."""
    name = object_name(ref)
    common = labels(ref, module)

    def meta(object_name_: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": object_name_,
            "namespace": ref.namespace,
            "labels": common,
            "ownerReferences": [owner_reference(ref)],
            **extra,
        }

    blocks, hosts = network_targets(module.permissions)
    config_hash = configuration_hash(spec.configuration)
    image, pull_policy, env = _image_and_env(module, runner_images)
    ports = _api_ports(module)

    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(name),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(f"{name}-config"),
            "data": {
                "config.json": json.dumps(spec.configuration or {}, sort_keys=True, indent=2),
                "allowed-hosts": "\n".join(sorted(hosts)),
            },
        },
    ]

    container: dict[str, Any] = {
        "name": "module",
        "image": image,
        "env": env,
        "resources": _merged_resources(module, spec),
        "ports": [{"name": f"api-{port}", "containerPort": port} for port in ports],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_PATH, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the sandbox's own scratch space
        ],
    }
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": f"{name}-config"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if spec.configuration_secret_ref is not None:
        # the tenant's own Secret (e.g. from sealed-secrets or external-secrets): mounted, never
        # read by the operator
        container["volumeMounts"].append(
            {"name": "secrets", "mountPath": SECRETS_PATH, "readOnly": True}
        )
        volumes.append(
            {"name": "secrets", "secret": {"secretName": spec.configuration_secret_ref.name}}
        )
    pod_spec: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if spec.runtime_class_name:
        pod_spec["runtimeClassName"] = spec.runtime_class_name
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(name),
            "spec": {
                "replicas": 1,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": selector(ref)},
                # no unavailability: the new pod must be ready before the old one goes
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {
                        "labels": common,
                        "annotations": {f"{GROUP}/configuration-hash": config_hash},
                    },
                    "spec": pod_spec,
                },
            },
        }
    )
    if ports:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(name),
                "spec": {
                    "selector": selector(ref),
                    "ports": [
                        {"name": f"api-{port}", "port": port, "targetPort": port, "protocol": "TCP"}
                        for port in ports
                    ],
                },
            }
        )
    objects.append(
        network_policy(
            ref, meta(name), ports=ports, blocks=blocks, hosts=hosts, platform_label=platform_label
        )
    )
    return objects


def network_policy(
    ref: InstallationRef,
    metadata: dict[str, Any],
    *,
    ports: list[int],
    blocks: list[tuple[str, int | None]],
    hosts: list[str],
    platform_label: str,
) -> dict[str, Any]:
    """Deny all traffic but DNS, the platform's own components, declared CIDRs, and the API
    ports to the platform. Host names cannot be expressed in a NetworkPolicy: they are listed
    in an annotation (and the ConfigMap) for the platform's egress proxy, which the module
    reaches as a platform component."""
    platform = {"namespaceSelector": {"matchLabels": {platform_label: "true"}}}
    egress: list[dict[str, Any]] = [
        {
            "to": [
                {
                    "namespaceSelector": {},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [platform]},
    ]
    for cidr, port in blocks:
        rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": cidr}}]}
        if port:
            rule["ports"] = [{"protocol": "TCP", "port": port}]
        egress.append(rule)
    ingress = (
        [{"from": [platform], "ports": [{"protocol": "TCP", "port": port} for port in ports]}]
        if ports
        else []
    )
    annotated = {**metadata, "annotations": {ALLOWED_HOSTS_KEY: ",".join(sorted(hosts))}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": annotated,
        "spec": {
            "podSelector": {"matchLabels": selector(ref)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
