"""From an object and the catalog to its status: the level-triggered core of every handler.

Why it exists: a kind's status must come out the same whether its own handler runs (the object
changed) or a Module it depends on changed (the object is revisited). These functions compute
the status patch from the object's current state alone, so running them twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api.status import StatusUpdate
from adx_modules.config import SandboxSettings
from adx_modules.validation.catalog import Catalog, CatalogEntry
from adx_modules.validation.rules import (
    Verdict,
    check_installation,
    check_listing,
    check_module,
)


@dataclass(frozen=True)
class Outcome:
    """A status patch, and the Event to post if the object's Ready state changed."""

    patch: dict[str, Any]
    event: tuple[str, str, str] | None  # (type, reason, message)
    accepted: bool = False


def _generation(body: Mapping[str, Any]) -> int:
    return int(body.get("metadata", {}).get("generation") or 1)


def _event(previous: Mapping[str, Any] | None, update: StatusUpdate) -> tuple[str, str, str] | None:
    """Post an Event when Ready's status or reason changes (not on every resync)."""
    ready = update.get_condition(c.READY)
    if ready is None:
        return None
    before = [x for x in (previous or {}).get("conditions") or [] if x.get("type") == c.READY]
    if before and (before[0].get("status"), before[0].get("reason")) == (
        ready["status"],
        ready["reason"],
    ):
        return None
    kind = "Warning" if update.get_condition(c.STALLED) else "Normal"
    return kind, ready["reason"], ready["message"]


def _reject(update: StatusUpdate, verdict: Verdict) -> None:
    update.condition(c.ACCEPTED, "False", verdict.reason, verdict.message)
    update.stalled(verdict.reason, verdict.message)


def module_outcome(
    body: Mapping[str, Any], catalog: Catalog, now: datetime | None = None
) -> Outcome:
    """A Module: Available once valid (scanning fills the score later), else Rejected."""
    status = body.get("status") or {}
    update = StatusUpdate(status, _generation(body), now or datetime.now(UTC))
    verdict = check_module(CatalogEntry.from_object(body), catalog)
    if verdict.ok:
        update.condition(c.ACCEPTED, "True", c.VALID, "the spec passed the operator's checks")
        update.condition(
            c.SCANNED,
            "False",
            c.NOT_SCANNED,
            "security scanning is not available in this version; no score yet",
        )
        update.ready(c.AVAILABLE, verdict.message).set(phase="Available")
    else:
        _reject(update, verdict)
        update.set(phase="Rejected")
    update.set(message=verdict.message)
    return Outcome(update.patch(), _event(status, update))


def installation_outcome(
    body: Mapping[str, Any],
    catalog: Catalog,
    sandbox: SandboxSettings,
    now: datetime | None = None,
    *,
    installed: bool = False,
) -> Outcome:
    """A ModuleInstallation: accepted (module, version, isolation, configuration resolve) and
    waiting for approval or for the lifecycle; or rejected with the reason. An installation
    that already runs keeps running: a rejected update does not touch it."""
    status = body.get("status") or {}
    update = StatusUpdate(status, _generation(body), now or datetime.now(UTC))
    verdict = check_installation(
        body.get("spec") or {},
        catalog,
        default_isolation=sandbox.default_isolation,
        enable_wasm=sandbox.enable_wasm,
        enable_containers=sandbox.enable_containers,
    )
    if not verdict.ok:
        if verdict.reason in (c.MODULE_NOT_FOUND, c.NO_MATCHING_VERSION, c.INVALID_CONSTRAINT):
            update.condition(c.RESOLVED, "False", verdict.reason, verdict.message)
        _reject(update, verdict)
        phase = status.get("phase") if installed else "Failed"
        update.set(phase=phase, message=verdict.message, resolvedVersion=None)
        return Outcome(update.patch(), _event(status, update))

    assert verdict.resolved is not None  # noqa: S101 - an accepted verdict always resolves
    update.condition(c.ACCEPTED, "True", c.VALID, "the spec passed the operator's checks")
    update.condition(c.RESOLVED, "True", verdict.reason, verdict.message)
    update.set(resolvedVersion=verdict.resolved.version, isolation=verdict.isolation)
    if verdict.missing_permissions:
        missing = ", ".join(verdict.missing_permissions)
        message = f"approve in spec.approvedPermissions: {missing}"
        update.condition(c.PERMISSIONS_APPROVED, "False", c.BLOCKED, message)
        update.stalled(c.BLOCKED, f"waiting for approval of {missing}")
        update.set(phase="AwaitingApproval", message=message)
        return Outcome(update.patch(), _event(status, update), accepted=True)
    update.condition(
        c.PERMISSIONS_APPROVED, "True", c.SUCCEEDED, "every declared permission is approved"
    )
    target = f"{verdict.resolved.module_id} {verdict.resolved.version}"
    message = f"accepted {target}; queued for the lifecycle worker"
    phase = "Updating" if installed else "Pending"
    update.reconciling(c.PENDING, message).set(phase=phase, message=message)
    return Outcome(update.patch(), _event(status, update), accepted=True)


def listing_outcome(
    body: Mapping[str, Any], catalog: Catalog, installs: int, now: datetime | None = None
) -> Outcome:
    """A MarketplaceListing: linked to its module's latest Available version, or not."""
    status = body.get("status") or {}
    update = StatusUpdate(status, _generation(body), now or datetime.now(UTC))
    verdict = check_listing(body.get("spec") or {}, catalog)
    update.set(installs=installs, message=verdict.message)
    if verdict.ok:
        update.condition(c.RESOLVED, "True", verdict.reason, verdict.message)
        update.ready(c.LINKED, verdict.message).set(latestVersion=verdict.latest_version)
    else:
        update.condition(c.RESOLVED, "False", verdict.reason, verdict.message)
        update.stalled(verdict.reason, verdict.message).set(latestVersion=None)
    return Outcome(update.patch(), _event(status, update))


def changes(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> bool:
    """Whether applying ``patch`` would change ``current`` (so revisits skip no-op writes)."""
    current = current or {}
    return any(current.get(key) != value for key, value in patch.items())
