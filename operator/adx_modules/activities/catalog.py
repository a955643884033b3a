"""Resolving an installation request against the published Modules.

Why it exists: the workflow's first step must see the catalog as it is now (a Module may have
been published or rejected since the handler looked), and turn a bad request into an error
that is never retried, naming the field.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adx_modules.api.lifecycle import Activities, LifecycleRequest, Resolution
from adx_modules.api.module import MODULE
from adx_modules.clients.kube import KubeClient
from adx_modules.config import Settings
from adx_modules.validation.catalog import Catalog
from adx_modules.validation.rules import check_installation


class CatalogActivities:
    """Reads Modules through the Kubernetes API."""

    def __init__(self, kube: KubeClient, settings: Settings) -> None:
        self._kube = kube
        self._settings = settings

    @activity.defn(name=Activities.RESOLVE)
    async def resolve(self, request: LifecycleRequest) -> Resolution:
        """The highest Available version matching the request, or a non-retryable error."""
        catalog = Catalog.from_objects(await self._kube.list_custom(MODULE))
        sandbox = self._settings.sandbox
        verdict = check_installation(
            request.spec.model_dump(by_alias=True, exclude_none=True),
            catalog,
            default_isolation=sandbox.default_isolation,
            enable_wasm=sandbox.enable_wasm,
            enable_containers=sandbox.enable_containers,
        )
        if not verdict.ok or verdict.resolved is None or verdict.resolved.spec is None:
            raise ApplicationError(verdict.message, type=verdict.reason, non_retryable=True)
        chosen = verdict.resolved
        isolation = verdict.isolation or sandbox.default_isolation
        return Resolution(
            module_name=chosen.name,
            module=chosen.spec,
            security_score=chosen.security_score,
            module_phase=chosen.phase,
            isolation=isolation,
            missing_permissions=list(verdict.missing_permissions),
            scanning_enabled=self._settings.security.scanning_enabled,
            min_security_score=self._settings.security.min_security_score,
        )
