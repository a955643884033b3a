"""From a Module and the catalog to its status: the Module handler's decision. Pure.

Why it exists: a Module's status must come out the same whether its own handler runs or a
sibling version changed (a duplicate waiting for the original to go); this computes it from the
object and the catalog alone, so running it twice changes nothing. With scanning enabled, a
valid Module waits (``Pending``) for its scan workflow, which alone writes the verdict
(``Scanning``, then ``Available`` or ``Rejected``); this never overwrites one.
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


NOT_STARTED = frozenset({r.SCAN_PENDING, r.SCANNING_DISABLED, r.NOT_SCANNED})
"""Reasons of ``Scanned`` before a scan workflow ran (or with scanning disabled)."""


def scan_state(status: Mapping[str, Any]) -> str | None:
    """The reason of the Module's ``Scanned`` condition (None when absent)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == c.SCANNED:
            return str(condition.get("reason"))
    return None


def scan_decided(state: str | None) -> bool:
    """Whether the scan workflow reached a verdict: passed, or failed for good."""
    return state == r.SCAN_PASSED or (
        state is not None and r.known(state) and r.describe(state).kind == "permanent"
    )


def module_outcome(
    body: Mapping[str, Any],
    catalog: Catalog,
    *,
    scanning_enabled: bool,
    now: datetime | None = None,
) -> Outcome:
    """A Module: Rejected when invalid; else Available unscanned when scanning is disabled, or
    Pending until its scan decides. ``accepted`` says the scan workflow must be running."""
    status = body.get("status") or {}
    update = StatusUpdate(status, generation(body), now or datetime.now(UTC), ModuleStatus)
    verdict = check_module(CatalogEntry.from_object(body), catalog)
    if not verdict.ok:
        reject(update, verdict)
        update.set(phase="Rejected", message=verdict.message)
        return Outcome(update.patch(), update.ready_event(status))
    update.condition(c.ACCEPTED, "True", r.VALID, "the spec passed the operator's checks")
    if not scanning_enabled:
        update.condition(
            c.SCANNED,
            "False",
            r.SCANNING_DISABLED,
            "security.scanning_enabled is false: this module is installable unscanned",
        )
        update.ready(r.AVAILABLE, verdict.message).set(phase="Available", message=verdict.message)
        return Outcome(update.patch(), update.ready_event(status))
    state = scan_state(status)
    if scan_decided(state):  # the scan decided: its verdict stands
        return Outcome(update.patch(), None)
    if state is None or state in NOT_STARTED:
        message = "valid; waiting for the security scan"
        update.condition(c.SCANNED, "Unknown", r.SCAN_PENDING, message)
        update.reconciling(r.SCAN_PENDING, message).set(phase="Pending", message=message)
    return Outcome(update.patch(), update.ready_event(status), accepted=True)
