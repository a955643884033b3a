"""Kopf handlers of ``ModuleInstallation``: accept or reject, with the reason named.

Why it exists: the apiserver checks the shape; this checks what needs the catalog — the module
exists, a version matching the constraint is Available, the isolation fits the module and is
enabled here, the configuration satisfies the module's configSchema — and whether every
permission the module declares is approved. Handlers are idempotent: the status is computed from
the object and the catalog alone. The lifecycle (install, update, uninstall) runs as Temporal
workflows started from here.
"""

from __future__ import annotations

from typing import Any

import kopf

from adx_modules.api.meta import GROUP, VERSION
from adx_modules.handlers.indexes import catalog_from, modules_index
from adx_modules.handlers.lifecycle import OperatorContext
from adx_modules.handlers.reconcile import installation_outcome


@kopf.on.resume(GROUP, VERSION, "moduleinstallations")
@kopf.on.create(GROUP, VERSION, "moduleinstallations")
@kopf.on.update(GROUP, VERSION, "moduleinstallations")
async def reconcile_installation(
    *, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any
) -> None:
    context: OperatorContext = memo["context"]
    raw = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}
    catalog = catalog_from(modules_index(kwargs))
    outcome = installation_outcome(raw, catalog, context.settings.sandbox)
    patch.status.update(outcome.patch)
    if outcome.event:
        kopf.event(body, type=outcome.event[0], reason=outcome.event[1], message=outcome.event[2])


@kopf.on.delete(GROUP, VERSION, "moduleinstallations")
async def installation_deleted(*, body: kopf.Body, **_: Any) -> None:
    """Behind the finalizer: nothing has been provisioned before the lifecycle runs, so the
    finalizer comes off at once; the uninstall workflow takes this place with the lifecycle."""
    kopf.event(body, type="Normal", reason="Uninstalled", message="installation removed")
