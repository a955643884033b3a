"""The modules' routes: a tenant's installations, install, and the install's progress.

Why it exists: web front ends install modules for a tenant without kubectl. An install through
the API *is* a ModuleInstallation, created in the tenant's namespace as the caller
(impersonation: the apiserver checks it like kubectl's), so ``kubectl get mi`` shows it and an
installation made with kubectl shows here; nothing is stored in the API. An installation is
named ``<tenant>:<name>`` (``instance_id``), the work on one generation of it
``<tenant>:<name>:<generation>`` (``operation_id``): both are read back from the custom resource.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.meta import API_VERSION
from adx_modules.clients.postgres import Store
from adx_modules.web.problems import BadRequestError
from adx_modules.web.services import Authenticated, Using
from adx_modules.web.tenants import namespace_of, same_user

router = APIRouter(prefix="/api/v1")
DEFAULT_ESTIMATE = 60
FIELD_MANAGER = "adx-module-api"  # kubectl shows what the API wrote (as the caller)
ESTIMATE = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM (
    SELECT extract(epoch FROM max(a.at) - min(a.at)) AS seconds
    FROM audit_events a JOIN installations i ON i.uid = a.installation_uid
    WHERE i.module_id = $1 AND a.action = 'install'
    GROUP BY a.workflow_id
    HAVING bool_or(a.step = 'install' AND a.outcome = 'succeeded')
    ORDER BY max(a.at) DESC LIMIT 20
) recent"""
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class InstallBody(BaseModel):
    """The service's install request (the spec's fields under their API names)."""

    model_config = ConfigDict(extra="forbid")
    tenant_id: str
    module_id: Name
    version: Annotated[str, Field(max_length=64)] = "*"
    name: Name | None = None
    """The installation's name (default: the module id)."""
    configuration: dict[str, Any] = {}
    isolation: Literal["none", "process", "container", "wasm"] | None = None
    auto_activate: bool = True
    approved_permissions: Annotated[list[str], Field(max_length=64)] = []
    user_id: str | None = None


def instance_id(namespace: str, name: str) -> str:
    return f"{namespace}:{name}"


def operation_id(namespace: str, name: str, generation: int) -> str:
    return f"{namespace}:{name}:{generation}"


def _parts(value: str, count: int, field: str) -> list[str]:
    parts = value.split(":")
    if len(parts) != count or not all(parts):
        shape = "<tenant>:<name>" + (":<generation>" if count == 3 else "")
        raise BadRequestError(f"{field}: {value!r} is not {shape}")
    return parts


def _condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in (body.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """An installation as the API shows it: phase, versions, health."""
    metadata, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    healthy = _condition(body, "Healthy")
    return {
        "instance_id": instance_id(metadata["namespace"], metadata["name"]),
        "name": metadata["name"],
        "tenant_id": metadata["namespace"],
        "module_id": spec.get("module"),
        "version": spec.get("version", "*"),
        "installed_version": status.get("installedVersion"),
        "isolation": status.get("isolation") or spec.get("isolation"),
        "phase": status.get("phase", "Pending"),
        "ready": _condition(body, "Ready").get("status") == "True",
        "health": {"status": healthy.get("status", "Unknown"), "reason": healthy.get("reason")},
        "message": status.get("message", ""),
    }


async def estimate(store: Store, module_id: str) -> int:
    """Seconds an install of this module took lately (the median of the last 20)."""
    seconds = await store.pool.fetchval(ESTIMATE, module_id)
    return round(seconds) if seconds else DEFAULT_ESTIMATE


@router.get("/tenants/{tenant_id}/modules")
async def tenant_modules(tenant_id: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant = namespace_of(tenant_id)
    await using.authority.authorize(caller, "list", INSTALLATION.plural, tenant)
    acting = using.kube.impersonating(caller.user, caller.groups)
    found = await acting.list_custom(INSTALLATION, tenant)
    return {"tenant_id": tenant, "modules": [summary(body) for body in found]}


@router.post("/modules/install", status_code=202)
async def install(body: InstallBody, caller: Authenticated, using: Using) -> dict[str, Any]:
    """Create the ModuleInstallation as the caller; answer where to follow its work."""
    tenant = namespace_of(body.tenant_id)
    same_user(caller, body.user_id)
    await using.authority.authorize(caller, "create", INSTALLATION.plural, tenant)
    name = body.name or body.module_id
    spec: dict[str, Any] = {
        "module": body.module_id,
        "version": body.version,
        "configuration": body.configuration,
        "autoActivate": body.auto_activate,
        "approvedPermissions": body.approved_permissions,
    }
    if body.isolation:
        spec["isolation"] = body.isolation
    manifest = {
        "apiVersion": API_VERSION,
        "kind": INSTALLATION.kind,
        "metadata": {"name": name, "namespace": tenant},
        "spec": spec,
    }
    acting = using.kube.impersonating(caller.user, caller.groups)
    created = await acting.create_custom(INSTALLATION, manifest, manager=FIELD_MANAGER)
    generation = int(created["metadata"].get("generation", 1))
    operation = operation_id(tenant, name, generation)
    return {
        "type": "Asynchronous",
        "instance_id": instance_id(tenant, name),
        "operation_id": operation,
        "status_url": f"/api/v1/workflows/{operation}/status",
        "estimated_duration_seconds": await estimate(using.store, body.module_id),
    }


@router.get("/workflows/{operation}/status")
async def workflow_status(operation: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    """Where the work on one generation stands: running (step, progress), succeeded, failed."""
    tenant, name, generation = _parts(operation, 3, "operation_id")
    namespace_of(tenant)
    await using.authority.authorize(caller, "get", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    body = await acting.get_custom(INSTALLATION, name, tenant)
    status = body.get("status") or {}
    current = int(body["metadata"].get("generation", 1))
    observed = int(status.get("observedGeneration") or 0)
    workflow = status.get("workflow") or {}
    if str(current) != generation:
        state = "superseded"
    elif workflow or observed < current:
        state = "running"
    elif status.get("phase") == "Failed":
        state = "failed"
    else:
        state = "succeeded"
    return {
        "operation_id": operation,
        "instance_id": instance_id(tenant, name),
        "state": state,
        "phase": status.get("phase", "Pending"),
        "step": workflow.get("step"),
        "progress": workflow.get("progress", 100 if state == "succeeded" else 0),
        "result" if state != "failed" else "failure": status.get("message", ""),
    }


@router.get("/modules/{instance}/health")
async def module_health(instance: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant, name = _parts(instance, 2, "instance_id")
    namespace_of(tenant)
    await using.authority.authorize(caller, "get", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    shown = summary(await acting.get_custom(INSTALLATION, name, tenant))
    return {key: shown[key] for key in ("instance_id", "phase", "ready", "health", "message")}
