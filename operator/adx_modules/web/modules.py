"""The modules' routes: a tenant's installations, install, update, uninstall, and their progress.

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
from adx_modules.clients.errors import NotFoundError
from adx_modules.clients.postgres import Store
from adx_modules.web.problems import BadRequestError, ConflictingError
from adx_modules.web.services import Authenticated, Using
from adx_modules.web.tenants import namespace_of, same_user

router = APIRouter(prefix="/api/v1")
DEFAULT_ESTIMATE = 60
FIELD_MANAGER = "adx-module-api"  # kubectl shows what the API wrote (as the caller)
ESTIMATE = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM (
    SELECT extract(epoch FROM max(a.at) - min(a.at)) AS seconds
    FROM audit_events a JOIN installations i ON i.uid = a.installation_uid
    WHERE i.module_id = $1 AND a.action = $2
    GROUP BY a.workflow_id
    HAVING bool_or(a.step = $2 AND a.outcome = 'succeeded')
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


class UpdateBody(BaseModel):
    """The service's update request."""

    model_config = ConfigDict(extra="forbid")
    target_version: Annotated[str, Field(min_length=1, max_length=64)]
    """The version (or constraint) to update to: ``spec.version``."""
    preserve_config: bool = True
    """Keep the configuration (``configuration``, if given, is merged over it as a JSON merge
    patch); false replaces it with ``configuration`` (none: the new version's defaults)."""
    backup_current: bool | None = None
    """Back up the running revision's data before rolling out: ``spec.update.backupData``
    (not given: as the spec says, false unless set)."""
    configuration: dict[str, Any] | None = None
    user_id: str | None = None


class UninstallBody(BaseModel):
    """The service's uninstall options (also accepted as query parameters)."""

    model_config = ConfigDict(extra="forbid")
    cleanup_data: bool | None = None
    """Remove the module's own data; false keeps it for the next installation of the name:
    ``spec.uninstall.cleanupData`` (not given: as the spec says, true unless set)."""
    backup_data: bool | None = None
    """Back up the module's data first: ``spec.uninstall.backupData`` (not given: as the spec
    says, false unless set)."""
    user_id: str | None = None


def merged(current: Any, patch: Any) -> Any:
    """``patch`` over ``current`` as a JSON merge patch (RFC 7396): objects merge, null
    removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merged(result.get(key), value)
    return result


def instance_id(namespace: str, name: str) -> str:
    return f"{namespace}:{name}"


UNINSTALL = "uninstall"  # the operation of a delete: ``<tenant>:<name>:uninstall``


def operation_id(namespace: str, name: str, generation: int | str) -> str:
    return f"{namespace}:{name}:{generation}"


def _parts(value: str, count: int, field: str) -> list[str]:
    parts = value.split(":")
    if len(parts) != count or not all(parts):
        shape = "<tenant>:<name>" + (":<generation>" if count == 3 else "")
        raise BadRequestError(f"{field}: {value!r} is not {shape}")
    return parts


def instance_parts(instance: str) -> tuple[str, str]:
    """(tenant namespace, installation name) of an ``instance_id``; 400 if it is not one."""
    tenant, name = _parts(instance, 2, "instance_id")
    return namespace_of(tenant), name


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


async def estimate(store: Store, module_id: str, action: str = "install") -> int:
    """Seconds an ``action`` (install, update, uninstall) of this module took lately (the median
    of the last 20)."""
    seconds = await store.pool.fetchval(ESTIMATE, module_id, action)
    return round(seconds) if seconds else DEFAULT_ESTIMATE


@router.get("/tenants/{tenant_id}/modules")
async def tenant_modules(tenant_id: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant = namespace_of(tenant_id)
    await using.authority.authorize(caller, "list", INSTALLATION.plural, tenant)
    acting = using.kube.impersonating(caller.user, caller.groups)
    found = await acting.list_custom(INSTALLATION, tenant)
    return {"tenant_id": tenant, "modules": [summary(body) for body in found]}


@router.post("/modules/install", status_code=202)
@router.post("/workflows/install-module", status_code=202)
async def install(body: InstallBody, caller: Authenticated, using: Using) -> dict[str, Any]:
    """Create the ModuleInstallation as the caller; answer where to follow its work. The
    workflows route is the service's asynchronous form of the same request (an install here is
    always asynchronous: both answer the operation to follow)."""
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
    return await asynchronous(using.store, created, "install")


async def asynchronous(store: Store, body: dict[str, Any], action: str) -> dict[str, Any]:
    """The service's answer to long work on ``body``'s current generation (or its uninstall)."""
    metadata = body["metadata"]
    tenant, name = metadata["namespace"], metadata["name"]
    work = UNINSTALL if action == UNINSTALL else int(metadata.get("generation", 1))
    operation = operation_id(tenant, name, work)
    return {
        "type": "Asynchronous",
        "instance_id": instance_id(tenant, name),
        "operation_id": operation,
        "status_url": f"/api/v1/workflows/{operation}/status",
        "estimated_duration_seconds": await estimate(
            store, (body.get("spec") or {}).get("module", ""), action
        ),
    }


def _conditional(body: dict[str, Any], changes: dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch setting ``changes`` (spec paths) only if ``body`` did not change since
    it was read (409 otherwise)."""
    version = body["metadata"]["resourceVersion"]
    operations = [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}]
    if "spec" not in body:
        operations.append({"op": "add", "path": "/spec", "value": {}})
    operations += [{"op": "add", "path": f"/spec/{k}", "value": v} for k, v in changes.items()]
    return operations


@router.put("/modules/{instance}/update", status_code=202)
async def update(
    instance: str, body: UpdateBody, caller: Authenticated, using: Using
) -> dict[str, Any]:
    """Patch the installation's version (and configuration, backup policy) as the caller."""
    tenant, name = instance_parts(instance)
    same_user(caller, body.user_id)
    await using.authority.authorize(caller, "patch", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    current = await acting.get_custom(INSTALLATION, name, tenant)
    spec = current.get("spec") or {}
    if current["metadata"].get("deletionTimestamp"):
        raise ConflictingError(f"instance_id: {instance} is being uninstalled")
    configuration = (
        merged(spec.get("configuration") or {}, body.configuration or {})
        if body.preserve_config
        else body.configuration or {}
    )
    update_policy = dict(spec.get("update") or {})
    if body.backup_current is not None:
        update_policy["backupData"] = body.backup_current
    changes = {
        "version": body.target_version,
        "configuration": configuration,
        "update": update_policy,
    }
    patched = await acting.patch_custom(
        INSTALLATION, name, tenant, _conditional(current, changes), manager=FIELD_MANAGER
    )
    return await asynchronous(using.store, patched, "update")


@router.delete("/modules/{instance}/uninstall", status_code=202)
async def uninstall(
    instance: str,
    *,
    caller: Authenticated,
    using: Using,
    body: UninstallBody | None = None,
    cleanup_data: bool | None = None,
    backup_data: bool | None = None,
) -> dict[str, Any]:
    """Set the uninstall options (if they change) and delete the installation as the caller;
    the uninstall workflow runs behind its finalizer."""
    tenant, name = instance_parts(instance)
    given = body or UninstallBody()
    same_user(caller, given.user_id)
    await using.authority.authorize(caller, "delete", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    current = await acting.get_custom(INSTALLATION, name, tenant)
    policy = (current.get("spec") or {}).get("uninstall") or {}
    cleanup, backup = policy.get("cleanupData", True), policy.get("backupData", False)
    options = {  # what the caller leaves out stays as the spec says
        "cleanupData": _one_of("cleanup_data", given.cleanup_data, cleanup_data, default=cleanup),
        "backupData": _one_of("backup_data", given.backup_data, backup_data, default=backup),
    }
    wanted = {**policy, **options}
    unchanged = (cleanup, backup) == (options["cleanupData"], options["backupData"])
    if current["metadata"].get("deletionTimestamp"):
        if not unchanged:
            raise ConflictingError(
                f"instance_id: {instance} is being uninstalled already, with cleanup_data "
                f"{cleanup} and backup_data {backup}"
            )
    else:
        if not unchanged:
            current = await acting.patch_custom(
                INSTALLATION, name, tenant, _conditional(current, {"uninstall": wanted}),
                manager=FIELD_MANAGER,
            )  # fmt: skip
        if not await acting.delete_custom(
            INSTALLATION, name, tenant, uid=current["metadata"]["uid"]
        ):
            raise ConflictingError(f"instance_id: {instance} changed while it was uninstalled")
    return await asynchronous(using.store, current, "uninstall")


def _one_of(field: str, in_body: bool | None, in_query: bool | None, *, default: bool) -> bool:
    if in_body is not None and in_query is not None and in_body != in_query:
        raise BadRequestError(f"{field}: the body says {in_body}, the query {in_query}")
    found = in_body if in_body is not None else in_query
    return default if found is None else found


@router.get("/workflows/{operation}/status")
async def workflow_status(operation: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    """Where the work on one generation (or the uninstall) stands: running (step, progress),
    succeeded, failed, superseded."""
    tenant, name, generation = _parts(operation, 3, "operation_id")
    namespace_of(tenant)
    if generation != UNINSTALL and not generation.isdigit():
        raise BadRequestError(f"operation_id: {generation!r} is neither a generation nor uninstall")
    await using.authority.authorize(caller, "get", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    try:
        body = await acting.get_custom(INSTALLATION, name, tenant)
    except NotFoundError:
        return await _after_uninstall(using.store, operation, tenant, name, generation)
    status = body.get("status") or {}
    current = int(body["metadata"].get("generation", 1))
    observed = int(status.get("observedGeneration") or 0)
    workflow = status.get("workflow") or {}
    deleting = bool(body["metadata"].get("deletionTimestamp"))
    if generation == UNINSTALL and not deleting:
        raise NotFoundError(f"ModuleInstallation {name} in {tenant} is not being uninstalled")
    if generation == UNINSTALL:
        state = "running"
    elif deleting or str(current) != generation:
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


async def _after_uninstall(
    store: Store, operation: str, tenant: str, name: str, generation: str
) -> dict[str, Any]:
    """The object is gone: the record says whether an uninstall finished it (a workflow's
    record in PostgreSQL outlives its object) — the uninstall succeeded, the work on any
    generation was superseded by it; otherwise there is nothing of that name."""
    uninstalled = await store.pool.fetchval(
        "SELECT max(at) FROM audit_events WHERE namespace = $1 AND name = $2 "
        "AND action = 'uninstall' AND step = 'uninstall' AND outcome = 'succeeded'",
        tenant,
        name,
    )
    if uninstalled is None:
        raise NotFoundError(f"ModuleInstallation {name} does not exist in {tenant}")
    return {
        "operation_id": operation,
        "instance_id": instance_id(tenant, name),
        "state": "succeeded" if generation == UNINSTALL else "superseded",
        "phase": "Uninstalled",
        "step": None,
        "progress": 100,
        "result": f"uninstalled at {uninstalled.isoformat()}",
    }


@router.get("/modules/{instance}/health")
async def module_health(instance: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant, name = instance_parts(instance)
    await using.authority.authorize(caller, "get", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    shown = summary(await acting.get_custom(INSTALLATION, name, tenant))
    return {key: shown[key] for key in ("instance_id", "phase", "ready", "health", "message")}
