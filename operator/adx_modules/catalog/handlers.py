"""Kopf handlers of ``Module``: load the catalog, validate what CEL cannot, start the scan.

Why it exists: a Module is immutable once published (CEL), so it is checked once on create (and
on operator start); the checks that need other objects or a real parser (JSON Schema, version
constraints, duplicate versions) are here. A valid Module is ``Pending`` until its scan workflow
(started here, once per Module) writes ``Available`` or ``Rejected``; with scanning disabled it
is Available at once, saying so. The catalog is loaded before any handler runs and
follows every Module event; when a version appears, changes phase or goes, its sibling versions
are revisited (a duplicate may now be the original). The other features watch Modules for their
own objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf
from temporalio.service import RPCError

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.api.module import MODULE
from adx_modules.catalog.admission import module_outcome
from adx_modules.catalog.index import MEMO_KEY, ModuleCatalog, catalog_from, module_catalog
from adx_modules.catalog.model import Catalog
from adx_modules.catalog.scanning.contract import ScanRequest
from adx_modules.catalog.scanning.start import start_scan_workflow
from adx_modules.clients.errors import ClientError, NotFoundError, UnavailableError
from adx_modules.core.context import OperatorContext, apply_outcome
from adx_modules.core.metrics import RECONCILES, WORKFLOWS_STARTED
from adx_modules.core.status import changes

LOG = logging.getLogger("adx_modules.operator")
WATCHER = "catalog"
RETRY_DELAY = 10  # seconds before Kopf retries a Module whose scan could not be started


@kopf.on.startup()
async def load_catalog(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """One LIST of every Module before any handler runs: nothing is judged against half a
    catalog. (Runs after the operator's own start-up, which connects the clients.)"""
    context: OperatorContext = memo["context"]
    catalog = ModuleCatalog()
    try:  # a page at a time: each is parsed and dropped, the whole LIST is never held
        async for modules, _version in context.kube.pages(MODULE):
            catalog.load(modules)
    except UnavailableError as error:  # e.g. the apiserver's storage is still initializing
        raise kopf.TemporaryError(f"cannot list the Modules yet: {error}", delay=2) from None
    memo[MEMO_KEY] = catalog
    logger.info("catalog loaded: %d Modules", len(catalog))


@kopf.on.resume(GROUP, VERSION, "modules")
@kopf.on.create(GROUP, VERSION, "modules")
@kopf.on.update(GROUP, VERSION, "modules")
async def reconcile_module(
    *, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    context: OperatorContext = memo["context"]
    raw = cast(Mapping[str, Any], body)
    scanning = context.settings.security.scanning_enabled
    outcome = module_outcome(raw, catalog_from(memo), scanning_enabled=scanning)
    RECONCILES.labels("Module", outcome.patch.get("phase", "unknown")).inc()
    if not outcome.accepted:
        apply_outcome(outcome, body, patch)
        return
    # written before the scan starts (not with Kopf's patch, which lands after this returns
    # and could overwrite a verdict reached from the cache in the meantime)
    if changes(body.status, outcome.patch):
        await context.kube.patch_status(MODULE, body.metadata.name or "", outcome.patch)
    await start_scan(context, raw)


async def start_scan(context: OperatorContext, body: Mapping[str, Any]) -> None:
    """The Module's scan workflow, started once (joined while it runs; run again, e.g. after
    scanning was disabled, once it has closed)."""
    request = ScanRequest.of(body)
    try:
        await start_scan_workflow(context.temporal, context.settings.temporal.task_queue, request)
        WORKFLOWS_STARTED.labels("ScanModuleWorkflow").inc()
    except RPCError as error:
        raise kopf.TemporaryError(
            f"cannot start the scan of Module {request.module}: {error}", delay=RETRY_DELAY
        ) from error


async def _revisit(context: OperatorContext, name: str, catalog: Catalog) -> None:
    """A sibling version judged again from a fresh copy (a duplicate may now be the original,
    and then it is scanned); best effort: its own handler catches up on failure."""
    try:
        body = await context.kube.get_custom(MODULE, name)
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        scanning = context.settings.security.scanning_enabled
        outcome = module_outcome(body, catalog, scanning_enabled=scanning)
        if changes(body.get("status"), outcome.patch):
            await context.kube.patch_status(MODULE, name, outcome.patch)
            if outcome.event:
                await context.kube.post_event(body, *outcome.event)
        if outcome.accepted:
            await start_scan(context, body)
    except NotFoundError:
        return
    except (ClientError, kopf.TemporaryError) as error:
        LOG.warning("revisiting Module %s failed: %s", name, error)


@kopf.on.event(GROUP, VERSION, "modules")
async def module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **_: Any
) -> None:
    """Keep the catalog current; revisit the sibling versions when this one appears, changes
    phase or goes."""
    catalog = module_catalog(memo)
    if not catalog.changed(WATCHER, event.get("type"), cast(Mapping[str, Any], body)):
        return
    context: OperatorContext = memo["context"]
    current = catalog.catalog()
    for sibling in catalog.versions(str(body.spec.get("moduleId", ""))):
        if sibling.name != name:
            await _revisit(context, sibling.name, current)
