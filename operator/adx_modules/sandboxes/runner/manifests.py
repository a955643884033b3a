"""A tenant's runner in Kubernetes: its Deployment and Service, made from the chart's template.
Pure: a template and a tenant in, manifests out.

Why it exists: in a cluster each tenant's ``process`` and ``none`` modules run in a runner of
their own (a pod of the runner image), so one tenant's modules never share a pod, a pids limit or
a memory limit with another's. What the pod *is* (image, resources, security context, the
database and token Secrets, volumes, probes) is the chart's to decide: it renders a Deployment
template the worker reads (``runner.deployment_template``). This module only names the copy for
a tenant, labels it, tells its runner which tenant it serves, and derives its Service from the
container's named ports.

Names are deterministic (``adx-runner-<tenant>``, hashed when too long), so applying twice
changes nothing. The objects live in the template's namespace (the release's, which holds the
database Secret a tenant namespace must not see), so they cannot be owned by installations in
other namespaces: the worker removes them itself with a tenant's last installation.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

from adx_modules.api.meta import GROUP
from adx_modules.core.errors import SettingsError

COMPONENT = "module-runner"
TENANT_LABEL = f"{GROUP}/tenant"
MANAGED = {"app.kubernetes.io/managed-by": "adx-module-operator"}
# every tenant runner the worker made
RUNNER_SELECTOR = (
    f"app.kubernetes.io/managed-by=adx-module-operator,app.kubernetes.io/component={COMPONENT}"
)
PORTS = ("invoke", "admin")
MAX_NAME = 63


def runner_name(tenant: str) -> str:
    """``adx-runner-<tenant>``, a DNS-1035 label: a long tenant is cut and its hash appended."""
    name = f"adx-runner-{tenant}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - 11].rstrip('-')}-{digest}"


def load_template(path: str) -> dict[str, Any]:
    """The chart's runner Deployment, checked for what the worker relies on."""
    where = f"runner.deployment_template ({path})"
    try:
        template = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"{where} cannot be read: {error}") from None
    if not isinstance(template, dict) or template.get("kind") != "Deployment":
        raise SettingsError(f"{where} is not a Deployment")
    if not (template.get("metadata") or {}).get("namespace"):
        raise SettingsError(f"{where} names no metadata.namespace for the tenants' runners")
    containers = ((template.get("spec") or {}).get("template") or {}).get("spec", {})
    containers = containers.get("containers") or []
    if len(containers) != 1:
        raise SettingsError(f"{where} must have exactly one container (the runner)")
    named = {port.get("name") for port in containers[0].get("ports") or []}
    missing = [port for port in PORTS if port not in named]
    if missing:
        raise SettingsError(f"{where}: the container has no port named {', '.join(missing)}")
    return template


def namespace_of(template: dict[str, Any]) -> str:
    return str(template["metadata"]["namespace"])


def labels(tenant: str) -> dict[str, str]:
    return {
        **MANAGED,
        "app.kubernetes.io/name": "adx-module-runner",
        "app.kubernetes.io/component": COMPONENT,
        "app.kubernetes.io/part-of": "adx",
        TENANT_LABEL: tenant,
    }


def _selector(tenant: str) -> dict[str, str]:
    return {"app.kubernetes.io/component": COMPONENT, TENANT_LABEL: tenant}


def deployment(template: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The tenant's runner: the template, named and labelled for the tenant, its runner told
    to serve only that tenant. One replica, replaced by Recreate: two runners of one tenant
    would both start its modules."""
    body = copy.deepcopy(template)
    metadata = body["metadata"]
    metadata["name"] = runner_name(tenant)
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels(tenant)}
    spec = body["spec"]
    spec["replicas"] = 1
    spec["strategy"] = {"type": "Recreate"}
    spec["selector"] = {"matchLabels": _selector(tenant)}
    pod = spec["template"]
    pod.setdefault("metadata", {})["labels"] = {
        **(pod["metadata"].get("labels") or {}),
        **labels(tenant),
    }
    container = pod["spec"]["containers"][0]
    env = [e for e in container.get("env") or [] if e.get("name") != "ADX_RUNNER_TENANT"]
    container["env"] = [*env, {"name": "ADX_RUNNER_TENANT", "value": tenant}]
    body.pop("status", None)
    return {**body, "apiVersion": "apps/v1", "kind": "Deployment"}


def service(template: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The tenant runner's Service: its invoke and admin ports, by the container's port names."""
    container = template["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or []}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": runner_name(tenant),
            "namespace": namespace_of(template),
            "labels": labels(tenant),
        },
        "spec": {
            "selector": _selector(tenant),
            "ports": [
                {"name": port, "port": ports[port], "targetPort": port, "protocol": "TCP"}
                for port in PORTS
            ],
        },
    }


def url_for(url: str, template: dict[str, Any] | None, tenant: str) -> str:
    """A runner URL setting for one tenant: ``{service}`` and ``{namespace}`` filled in when
    tenants have runners of their own."""
    if template is None:
        return url.rstrip("/")
    filled = url.replace("{service}", runner_name(tenant))
    return filled.replace("{namespace}", namespace_of(template)).rstrip("/")
