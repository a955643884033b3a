"""``GET /api/v1/modules/{instance_id}/resources``: what an installation uses.

Why it exists: a tenant's front end shows what each module costs it. The answer comes from
where the module runs: the WASM host and the module runner record each installation's use
(calls, fuel or CPU seconds, memory) in PostgreSQL every health round (sandboxes/reporting.py);
a container's pods are measured by the cluster's metrics API (metrics.k8s.io, served by
metrics-server) where the cluster has one — asked as the caller, so RBAC decides. Where neither
has anything to say, the answer says why instead of inventing numbers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from adx_modules.api.installation import INSTALLATION
from adx_modules.clients.errors import ForbiddenError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.web.modules import instance_parts
from adx_modules.web.services import Authenticated, Using

router = APIRouter(prefix="/api/v1")
HOSTED = {"wasm": "the WASM host", "process": "the module runner", "none": "the module runner"}
INSTANCE_PODS = "app.kubernetes.io/managed-by=adx-module-operator,app.kubernetes.io/instance="


@router.get("/modules/{instance}/resources")
async def module_resources(instance: str, caller: Authenticated, using: Using) -> dict[str, Any]:
    tenant, name = instance_parts(instance)
    await using.authority.authorize(caller, "get", INSTALLATION.plural, tenant, name=name)
    acting = using.kube.impersonating(caller.user, caller.groups)
    body = await acting.get_custom(INSTALLATION, name, tenant)
    spec, status = body.get("spec") or {}, body.get("status") or {}
    isolation = status.get("isolation") or spec.get("isolation") or "container"
    answer: dict[str, Any] = {
        "instance_id": instance,
        "isolation": isolation,
        "limits": (spec.get("resources") or {}).get("limits"),
    }
    if isolation in HOSTED:
        return answer | await _hosted(using.store, body["metadata"]["uid"], HOSTED[isolation])
    return answer | await _pods(acting, tenant, name)


async def _hosted(store: Store, uid: str, host: str) -> dict[str, Any]:
    row = await store.pool.fetchrow(
        "SELECT usage, observed_at FROM module_usage WHERE installation_uid = $1::uuid", uid
    )
    if row is None:
        return {
            "source": host,
            "observed_at": None,
            "usage": None,
            "message": f"{host} has recorded nothing yet (it does every health round)",
        }
    return {"source": host, "observed_at": row["observed_at"].isoformat(), "usage": row["usage"]}


async def _pods(acting: KubeClient, tenant: str, name: str) -> dict[str, Any]:
    try:
        pods = await acting.list_objects("PodMetrics", tenant, INSTANCE_PODS + name)
    except NotFoundError:
        return {
            "source": None,
            "usage": None,
            "message": "the cluster serves no pod metrics (metrics.k8s.io): install "
            "metrics-server to see a container module's use",
        }
    except ForbiddenError as error:
        return {"source": "metrics.k8s.io", "usage": None, "message": str(error)}
    return {
        "source": "metrics.k8s.io",
        "observed_at": max((p.get("timestamp", "") for p in pods), default=None),
        "usage": {
            "pods": [
                {
                    "pod": pod["metadata"]["name"],
                    "window": pod.get("window"),
                    "containers": {
                        c["name"]: c.get("usage", {}) for c in pod.get("containers", [])
                    },
                }
                for pod in pods
            ]
        },
    }
