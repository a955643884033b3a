"""The resolve activity: an installation request against the published Modules, now.

Why it exists: the workflow's first step must see the catalog as it is now (a Module may have
been published or rejected since the handler looked), and turn a bad request into an error
that is never retried, naming the field.
"""

from __future__ import annotations

from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION, ModuleInstallationSpec
from adx_modules.api.module import MODULE
from adx_modules.catalog.model import Catalog, CatalogEntry, ParsedSpec
from adx_modules.catalog.resolver.model import (
    DependencyCycleError,
    ResolutionError,
    TooComplexError,
)
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.settings import Settings
from adx_modules.installations.contract import Activities, LifecycleRequest, Resolution
from adx_modules.installations.dependencies import broken_dependents, plan
from adx_modules.installations.rules import InstallationVerdict, check_installation


class ResolveActivities:
    """Reads Modules and the tenant's installations through the Kubernetes API."""

    def __init__(self, kube: KubeClient, settings: Settings) -> None:
        self._kube = kube
        self._settings = settings
        self._parsed: dict[str, ParsedSpec] = {}  # Module specs by uid: immutable, parsed once

    async def _catalog(self) -> Catalog:
        """The Modules as they are now; each spec parsed once per worker (specs never change)."""
        bodies = await self._kube.list_custom(MODULE)
        parsed, self._parsed = self._parsed, {}
        entries = [CatalogEntry.from_object(body, parsed) for body in bodies]
        for body in bodies:  # keep what still exists, drop what was deleted
            uid = str(body.get("metadata", {}).get("uid", ""))
            if uid in parsed:
                self._parsed[uid] = parsed[uid]
        return Catalog(entries)

    def _check(self, spec: ModuleInstallationSpec, catalog: Catalog) -> InstallationVerdict:
        sandbox = self._settings.sandbox
        verdict = check_installation(
            spec.model_dump(by_alias=True, exclude_none=True),
            catalog,
            default_isolation=sandbox.default_isolation,
            enable_wasm=sandbox.enable_wasm,
            enable_containers=sandbox.enable_containers,
            trusted=sandbox.trusted,
        )
        if not verdict.ok or verdict.resolved is None or verdict.resolved.spec is None:
            raise StepError(verdict.reason, verdict.message)
        return verdict

    @activity.defn(name=Activities.RESOLVE)
    async def resolve(self, request: LifecycleRequest) -> Resolution:
        """The version to install and everything it needs, or a non-retryable error: the
        request's own checks first (module, versions, configuration), then the dependencies
        (resolved against the tenant's installations), then the tenant's dependents (an update
        must not break them)."""
        ref, spec = request.ref, request.spec
        catalog = await self._catalog()
        verdict = self._check(spec, catalog)
        installations = await self._kube.list_custom(INSTALLATION, ref.namespace)
        try:
            planned = plan(ref.name, spec.module, spec.version, catalog, installations)
        except DependencyCycleError as error:
            raise StepError(r.DEPENDENCY_CYCLE, str(error)) from None
        except TooComplexError as error:
            raise StepError(r.DEPENDENCY_TOO_COMPLEX, str(error)) from None
        except ResolutionError as error:
            raise StepError(r.DEPENDENCY_CONFLICT, str(error)) from None
        if verdict.resolved is None or verdict.resolved.version != planned.version:
            # the dependencies chose an older version: check that one
            verdict = self._check(
                spec.model_copy(update={"version": f"=={planned.version}"}), catalog
            )
        chosen = verdict.resolved
        if chosen is None or chosen.spec is None:  # _check guarantees it; keeps mypy informed
            raise StepError(r.STEP_FAILED, "resolution lost its module")
        running = next(
            (
                (i.get("status") or {}).get("installedVersion")
                for i in installations
                if i["metadata"]["name"] == ref.name
            ),
            None,
        )
        if running and running != chosen.version:
            broken = broken_dependents(
                ref.name, spec.module, chosen.version, catalog, installations
            )
            if broken:
                raise StepError(
                    r.BREAKS_DEPENDENTS,
                    f"updating to {spec.module} {chosen.version} would break its dependents: "
                    + "; ".join(broken),
                )
        wanted = set(chosen.spec.permissions)
        for dependency in planned.dependencies:
            if dependency.create:  # created from here: this tenant approves it here
                wanted |= set(dependency.permissions)
        scanning = self._settings.security.scanning_enabled
        return Resolution(
            module_name=chosen.name,
            module=(chosen.pinned_spec() if scanning else None) or chosen.spec,
            digest=chosen.digest if scanning else None,
            security_score=chosen.security_score,
            module_phase=chosen.phase,
            isolation=verdict.isolation or self._settings.sandbox.default_isolation,
            missing_permissions=sorted(wanted - set(spec.approved_permissions)),
            scanning_enabled=scanning,
            min_security_score=self._settings.security.min_security_score,
            dependencies=planned.dependencies,
            health_timeout_seconds=(
                spec.update.health_timeout_seconds
                if spec.update and "health_timeout_seconds" in spec.update.model_fields_set
                else self._settings.sandbox.health_timeout_seconds
            ),
        )
