"""A tenant's dependencies: install them as ModuleInstallations, wait for them, collect them.

Why it exists: a module's dependencies are modules like any other, so they are installed the
same way: as ModuleInstallations of the namespace (labelled as installed-as-dependency), each
with its own lifecycle. The dependent's workflow creates them a level at a time (one level's
installations run in parallel), waits until they are Ready, and when nothing requires one any
more, deletes it (its own uninstall runs behind its finalizer).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION
from adx_modules.api.meta import API_VERSION, GROUP
from adx_modules.clients.errors import NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.installations.contract import Activities, DependencyRequest, InstallationsRequest
from adx_modules.installations.dependencies import DEPENDENCY_LABEL, dependents_of

INSTALLED_FOR = f"{GROUP}/installed-for"


def _condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in (body.get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return {}


class DependencyActivities:
    """Creates, watches and removes dependency installations."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    @activity.defn(name=Activities.ENSURE_DEPENDENCIES)
    async def ensure_dependencies(self, request: DependencyRequest) -> list[str]:
        """Create (or converge) the installations of one level of dependencies."""
        created = []
        for dependency in request.dependencies:
            if not dependency.create:
                continue
            await self._kube.apply_custom(
                INSTALLATION,
                {
                    "apiVersion": API_VERSION,
                    "kind": "ModuleInstallation",
                    "metadata": {
                        "name": dependency.installation,
                        "namespace": request.ref.namespace,
                        "labels": {DEPENDENCY_LABEL: "true"},
                        "annotations": {INSTALLED_FOR: request.ref.name},
                    },
                    "spec": {
                        "module": dependency.module_id,
                        "version": f"=={dependency.version}",
                        # approved by the tenant on the installation that needs it
                        "approvedPermissions": sorted(dependency.permissions),
                    },
                },
            )
            created.append(dependency.installation)
        return created

    @activity.defn(name=Activities.WAIT_INSTALLATIONS)
    async def wait_installations(self, request: InstallationsRequest) -> None:
        """Until every named installation is Ready; one that stalls fails the wait at once."""
        deadline = time.monotonic() + request.timeout_seconds
        waiting = list(request.names)
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                try:
                    body = await self._kube.get_custom(INSTALLATION, name, request.ref.namespace)
                except NotFoundError:
                    continue
                if _condition(body, "Ready").get("status") == "True":
                    waiting.remove(name)
                elif _condition(body, "Stalled").get("status") == "True":
                    why = (body.get("status") or {}).get("message", "")
                    raise StepError(
                        r.DEPENDENCY_FAILED,
                        f"dependency {name} ({body['spec'].get('module')}) failed: {why}",
                    )
            activity.heartbeat(f"waiting for {', '.join(waiting)}")
            if waiting:
                await asyncio.sleep(1)
        if waiting:
            raise StepError(
                r.DEPENDENCY_FAILED,
                f"dependencies not Ready within {request.timeout_seconds}s: {', '.join(waiting)}",
            )

    @activity.defn(name=Activities.COLLECT_DEPENDENCIES)
    async def collect_dependencies(self, request: InstallationsRequest) -> list[str]:
        """Delete the named installations that were installed as dependencies and that no
        live installation (other than ``request.ref``) requires any more."""
        namespace = request.ref.namespace
        others = [
            i
            for i in await self._kube.list_custom(INSTALLATION, namespace)
            if i["metadata"]["name"] != request.ref.name
        ]
        by_name = {i["metadata"]["name"]: i for i in others}
        removed = []
        for name in request.names:
            body = by_name.get(name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                continue
            if (body["metadata"].get("labels") or {}).get(DEPENDENCY_LABEL) != "true":
                continue  # the tenant installed it: it stays
            if dependents_of(name, others):
                continue
            if await self._kube.delete_custom(INSTALLATION, name, namespace):
                removed.append(name)
        return removed
