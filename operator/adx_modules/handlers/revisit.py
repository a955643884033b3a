"""When a Module changes, bring everything that names it up to date.

Why it exists: Kopf reacts to an object's own changes; but a listing's latest version, an
installation waiting for a module to be published, or a duplicate version waiting for the
original to go all depend on *other* objects. After a Module changes, this re-evaluates its
siblings, installations and listings from fresh copies and patches only what differs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import kopf
from kubernetes_asyncio.client.exceptions import ApiException

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.listing import LISTING
from adx_modules.api.meta import KindInfo
from adx_modules.api.module import MODULE
from adx_modules.clients.kube import KubeClient, NotFoundError
from adx_modules.handlers.indexes import InstallationsIndex, ListingsIndex, ModulesIndex
from adx_modules.handlers.installations import reconcile
from adx_modules.handlers.lifecycle import OperatorContext
from adx_modules.handlers.reconcile import Outcome, changes, listing_outcome, module_outcome
from adx_modules.validation.catalog import Catalog

LOG = logging.getLogger("adx_modules.operator")


def active_installs(installations: InstallationsIndex, module_id: str) -> int:
    return sum(1 for _, _, phase in installations.get(module_id, []) if phase == "Active")


async def _refresh(
    kube: KubeClient,
    kind: KindInfo,
    name: str,
    namespace: str | None,
    evaluate: Callable[[dict[str, Any]], Outcome],
) -> None:
    try:
        body = await kube.get(kind, name, namespace)
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        outcome = evaluate(body)
        if changes(body.get("status"), outcome.patch):
            await kube.patch_status(kind, name, outcome.patch, namespace)
            if outcome.event:
                kind_, reason, message = outcome.event
                kopf.event(
                    kopf.Body(cast(kopf.RawBody, body)), type=kind_, reason=reason, message=message
                )
    except NotFoundError:
        return
    except ApiException as error:  # best effort: the object's own handler will catch up
        LOG.warning("revisiting %s %s failed: %s", kind.kind, name, error.reason)


async def _reconcile_installation(
    context: OperatorContext, name: str, namespace: str, catalog: Catalog
) -> None:
    """An installation is reconciled as its own handler would (it may now proceed)."""
    if context.kube is None:
        return
    try:
        body = await context.kube.get(INSTALLATION, name, namespace)
        if not body.get("metadata", {}).get("deletionTimestamp"):
            await reconcile(context, body, catalog)
    except NotFoundError:
        return
    except (ApiException, kopf.TemporaryError) as error:  # its own handler will catch up
        LOG.warning("revisiting ModuleInstallation %s/%s failed: %s", namespace, name, error)


async def revisit(
    module_id: str,
    *,
    context: OperatorContext | None = None,
    kube: KubeClient,
    catalog: Catalog,
    modules: ModulesIndex,
    installations: InstallationsIndex,
    listings: ListingsIndex,
    skip: str | None = None,
) -> None:
    """Re-evaluate the siblings, installations and listings of ``module_id``."""
    steps: list[Awaitable[None]] = []
    for sibling in modules.get(module_id, []):
        name = sibling["metadata"]["name"]
        if name != skip:
            steps.append(_refresh(kube, MODULE, name, None, lambda b: module_outcome(b, catalog)))
    if context is not None:
        for namespace, name, _ in installations.get(module_id, []):
            steps.append(_reconcile_installation(context, name, namespace, catalog))
    installs = active_installs(installations, module_id)
    for name in listings.get(module_id, []):
        steps.append(
            _refresh(kube, LISTING, name, None, lambda b: listing_outcome(b, catalog, installs))
        )
    for step in steps:
        await step
