"""When a Module changes, the installations that name it are reconciled again.

Why it exists: Kopf reacts to an object's own changes, but an installation waiting for its
module to be published (or for a version to become Available) depends on *another* object.
When a Module appears, changes phase or goes, the installations of that module are reconciled
as their own handler would, from fresh copies.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import kopf

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.index import catalog_from
from adx_modules.catalog.model import Catalog
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.core.context import OperatorContext
from adx_modules.installations.handlers import reconcile

LOG = logging.getLogger("adx_modules.operator")
WATCHER = "installations"
InstallationsIndex = kopf.Index[str, tuple[str, str]]


@kopf.index(GROUP, VERSION, "moduleinstallations")
def installations_by_module(
    body: kopf.Body, namespace: str | None, name: str, **_: Any
) -> dict[str, tuple[str, str]]:
    """module -> (namespace, name) of the installations of it."""
    return {str(body.spec.get("module", "")): (namespace or "", name)}


async def _reconcile(context: OperatorContext, name: str, namespace: str, catalog: Catalog) -> None:
    """An installation is reconciled as its own handler would (it may now proceed)."""
    try:
        body = await context.kube.get_custom(INSTALLATION, name, namespace)
        if not body.get("metadata", {}).get("deletionTimestamp"):
            await reconcile(context, body, catalog)
    except NotFoundError:
        return
    except (ClientError, kopf.TemporaryError) as error:  # its own handler will catch up
        LOG.warning("revisiting ModuleInstallation %s/%s failed: %s", namespace, name, error)


@kopf.on.event(GROUP, VERSION, "modules")
async def installed_module_changed(
    *, event: kopf.RawEvent, body: kopf.Body, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A version of the module appeared, changed phase or went: its installations are
    reconciled (runs after Kopf updated its indexes from the same event: nothing is missed)."""
    context: OperatorContext = memo["context"]
    if not context.module_changed(WATCHER, event, body):
        return
    catalog = catalog_from(kwargs)
    index = cast(InstallationsIndex, kwargs["installations_by_module"])
    for namespace, installation in index.get(str(body.spec.get("moduleId", "")), []):
        await _reconcile(context, installation, namespace, catalog)
