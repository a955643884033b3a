"""From a Module and the catalog to its status: the Module handler's decision. Pure.

Why it exists: a Module's status must come out the same whether its own handler runs or a
sibling version changed (a duplicate waiting for the original to go); this computes it from the
object and the catalog alone, so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.module import ModuleStatus
from adx_modules.catalog.model import Catalog, CatalogEntry
from adx_modules.catalog.rules import Verdict, check_module
from adx_modules.core.status import Outcome, StatusUpdate, generation


def reject(update: StatusUpdate, verdict: Verdict) -> None:
    """Not accepted: Accepted=False and Stalled with the verdict's reason and message."""
    update.condition(c.ACCEPTED, "False", verdict.reason, verdict.message)
    update.stalled(verdict.reason, verdict.message)


def module_outcome(
    body: Mapping[str, Any], catalog: Catalog, now: datetime | None = None
) -> Outcome:
    """A Module: Available once valid (scanning fills the score later), else Rejected."""
    status = body.get("status") or {}
    update = StatusUpdate(status, generation(body), now or datetime.now(UTC), ModuleStatus)
    verdict = check_module(CatalogEntry.from_object(body), catalog)
    if verdict.ok:
        update.condition(c.ACCEPTED, "True", r.VALID, "the spec passed the operator's checks")
        update.condition(
            c.SCANNED,
            "False",
            r.NOT_SCANNED,
            "security scanning is not available in this version; no score yet",
        )
        update.ready(r.AVAILABLE, verdict.message).set(phase="Available")
    else:
        reject(update, verdict)
        update.set(phase="Rejected")
    update.set(message=verdict.message)
    return Outcome(update.patch(), update.ready_event(status))
