"""Where a tenant's modules run: the one local runner, or, in a cluster, the tenant's own runner
Deployment, made with its first installation and removed with its last.

Why it exists: the worker's ``process`` backend and the module-workflow steps both reach "the
runner of this tenant"; this is the one place that knows which runner that is and keeps it in
being. Without ``runner.deployment_template`` every tenant shares the runner at
``runner.admin_url`` (``make run``, the tests). With it, each tenant gets the Deployment and
Service of :mod:`manifests`, applied server-side (idempotent: a retried step changes nothing);
once no registration of a tenant is left its runner is deleted, and so is any runner whose
tenant lost its rows while the worker was down. A worker that starts (after a chart upgrade
changed the template, say) applies every tenant's runner again.
"""

from __future__ import annotations

import logging
from typing import Any

from adx_modules.api import reasons as r
from adx_modules.clients.errors import ClientError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.sandbox_settings import RunnerSettings
from adx_modules.sandboxes.admin_http import HostAdmin
from adx_modules.sandboxes.runner import manifests

LOG = logging.getLogger("adx_modules.runner")


class RunnerPlacement:
    """The runner of each tenant: its addresses, and (in a cluster) its Deployment."""

    def __init__(self, settings: RunnerSettings, kube: KubeClient | None = None) -> None:
        self._settings = settings
        self._kube = kube
        self.template: dict[str, Any] | None = (
            manifests.load_template(settings.deployment_template)
            if settings.deployment_template
            else None
        )

    def admin(self, tenant: str) -> HostAdmin:
        """The admin API of the runner that serves ``tenant``."""
        url = manifests.url_for(self._settings.admin_url, self.template, tenant)
        what = "the module runner" if self.template is None else f"tenant {tenant}'s runner"
        return HostAdmin(what, url, self._settings.admin_token)

    def invoke_url(self, tenant: str) -> str:
        return manifests.url_for(self._settings.invoke_url, self.template, tenant)

    def _client(self) -> KubeClient:
        if self._kube is None:
            raise StepError(r.SERVICE_UNAVAILABLE, "no Kubernetes client to run tenant runners")
        return self._kube

    async def ensure(self, tenant: str) -> None:
        """The tenant's runner Deployment and Service exist (no-op without a template)."""
        if self.template is None:
            return
        kube = self._client()
        try:
            await kube.apply(manifests.deployment(self.template, tenant))
            await kube.apply(manifests.service(self.template, tenant))
        except ClientError as error:
            raise StepError(
                r.SERVICE_UNAVAILABLE,
                f"tenant {tenant}'s runner Deployment could not be applied: {error}",
            ) from None

    async def converge(self, tenants_in_use: set[str]) -> None:
        """At the worker's start: every tenant's runner made again from the (perhaps new)
        template, the runners of tenants without modules removed. A failure is logged: the
        next install or uninstall of the tenant converges its runner anyway."""
        if self.template is None:
            return
        try:
            for tenant in sorted(tenants_in_use):
                await self.ensure(tenant)
            await self.release_unused(tenants_in_use)
        except (StepError, ClientError) as error:
            LOG.warning("the tenants' runners were not converged: %s", error)

    async def release_unused(self, tenants_in_use: set[str]) -> list[str]:
        """Delete the runners of tenants without registrations; what was deleted."""
        if self.template is None:
            return []
        kube = self._client()
        namespace = manifests.namespace_of(self.template)
        removed: list[str] = []
        for kind in ("Deployment", "Service"):
            for body in await kube.list_objects(kind, namespace, manifests.RUNNER_SELECTOR):
                metadata = body["metadata"]
                tenant = (metadata.get("labels") or {}).get(manifests.TENANT_LABEL)
                if tenant in tenants_in_use:
                    continue
                if await kube.delete_object(
                    kind, metadata["name"], namespace, uid=metadata.get("uid")
                ):
                    LOG.info(
                        "removed %s %s: tenant %s runs no module", kind, metadata["name"], tenant
                    )
                    removed.append(f"{kind}/{metadata['name']}")
        return removed
