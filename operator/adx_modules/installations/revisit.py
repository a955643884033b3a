"""When a Module changes, the installations that name it are reconciled again.

Why it exists: Kopf reacts to an object's own changes, but an installation waiting for its
module to be published (or for a version to become Available) depends on *another* object.
When a Module appears, changes phase or goes, the installations of that module are reconciled
as their own handler would, from fresh copies. Which installations name which module is kept
from the installations' own watch events (O(1) per event).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.index import module_catalog
from adx_modules.catalog.model import Catalog
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.core.context import OperatorContext
from adx_modules.installations.admission import catalog_warnings
from adx_modules.installations.handlers import reconcile

LOG = logging.getLogger("adx_modules.operator")
WATCHER = "installations"
MEMO_KEY = "installations_by_module"
ByModule = dict[str, set[tuple[str, str]]]


@kopf.on.startup()
async def prepare(memo: kopf.Memo, **_: Any) -> None:
    """Shared state goes into the operator's memo before any object is seen: each object's
    memo is a shallow copy of it, so what is added later would stay with one object."""
    memo[MEMO_KEY] = {}


def _by_module(memo: kopf.Memo) -> ByModule:
    return cast(ByModule, memo[MEMO_KEY])


@kopf.on.event(GROUP, VERSION, "moduleinstallations")
async def installation_seen(
    *,
    event: kopf.RawEvent,
    body: kopf.Body,
    spec: kopf.Spec,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """module -> (namespace, name) of the installations of it (which of them wait for their
    dependencies is kept by their own reconcile: ``OperatorContext.waiting_for_dependencies``)."""
    module = str(spec.get("module", ""))
    installations = _by_module(memo).setdefault(module, set())
    key = (namespace or "", name)
    if event.get("type") == "DELETED":
        installations.discard(key)
        context: OperatorContext = memo["context"]
        context.waiting_for_dependencies.discard(key)
        return
    installations.add(key)


async def _reconcile(
    context: OperatorContext,
    name: str,
    namespace: str,
    catalog: Catalog,
) -> None:
    """An installation is reconciled as its own handler would (it may now proceed), and told
    when the version it runs was withdrawn or rescanned to another verdict."""
    try:
        body = await context.kube.get_custom(INSTALLATION, name, namespace)
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        await reconcile(context, body, catalog)
        warning = catalog_warnings(body, catalog)
        if warning is not None:  # rare: read again, the reconcile may have written since
            fresh = await context.kube.get_custom(INSTALLATION, name, namespace)
            warning = catalog_warnings(fresh, catalog)
        if warning is not None:
            await context.kube.patch_status(INSTALLATION, name, {"conditions": warning}, namespace)
    except NotFoundError:
        context.waiting_for_dependencies.discard((namespace, name))
        return
    except (ClientError, kopf.TemporaryError) as error:  # its own handler will catch up
        LOG.warning("revisiting ModuleInstallation %s/%s failed: %s", namespace, name, error)


@kopf.on.event(GROUP, VERSION, "modules")
async def installed_module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    """A version of the module appeared, changed phase or went: its installations are
    reconciled, and those waiting for their dependencies to be judged (few, usually none)."""
    catalog = module_catalog(memo)
    if not catalog.changed(WATCHER, event.get("type"), cast(Mapping[str, Any], body)):
        return
    context: OperatorContext = memo["context"]
    current = catalog.catalog()
    module_id = str(body.spec.get("moduleId", ""))
    for namespace, installation in sorted(_by_module(memo).get(module_id, ())):
        await _reconcile(context, installation, namespace, current)
    # those deferred for their dependencies: each reconcile takes itself off the list when it
    # goes ahead (or is gone), or stays on it, waiting for the next judgement
    for namespace, installation in sorted(context.waiting_for_dependencies):
        await _reconcile(context, installation, namespace, current)
