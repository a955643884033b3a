"""From a ModuleInstallation and the catalog to its status: accepted or not, before any workflow.

Why it exists: the operator answers at once whether an installation can go ahead (the module
exists, a version matches, the isolation fits, the configuration is valid, the permissions are
approved) and writes that answer into the status, the same way whether the installation's own
handler runs or a Module it names changed. Pure: computed from the object and the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationStatus
from adx_modules.api.meta import ConditionStatus
from adx_modules.catalog.admission import reject
from adx_modules.catalog.model import Catalog
from adx_modules.core.sandbox_settings import SandboxSettings
from adx_modules.core.status import Outcome, StatusUpdate, generation
from adx_modules.installations.messages import (
    accepted,
    awaiting_approval,
    permissions_approved,
    permissions_missing,
)
from adx_modules.installations.rules import check_installation


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
    update = StatusUpdate(
        status, generation(body), now or datetime.now(UTC), ModuleInstallationStatus
    )
    verdict = check_installation(
        body.get("spec") or {},
        catalog,
        default_isolation=sandbox.default_isolation,
        enable_wasm=sandbox.enable_wasm,
        enable_containers=sandbox.enable_containers,
        trusted=sandbox.trusted,
    )
    if not verdict.ok:
        if verdict.reason in (r.MODULE_NOT_FOUND, r.NO_MATCHING_VERSION, r.INVALID_CONSTRAINT):
            update.condition(c.RESOLVED, "False", verdict.reason, verdict.message)
        reject(update, verdict)
        phase = status.get("phase") if installed else "Failed"
        update.set(phase=phase, message=verdict.message, resolved_version=None)
        return Outcome(update.patch(), update.ready_event(status))

    assert verdict.resolved is not None  # noqa: S101 - an accepted verdict always resolves
    update.condition(*accepted())
    update.condition(c.RESOLVED, "True", verdict.reason, verdict.message)
    update.set(resolved_version=verdict.resolved.version, isolation=verdict.isolation)
    if verdict.missing_permissions:
        missing = permissions_missing(verdict.missing_permissions)
        _, _, _, message = missing
        update.condition(*missing)
        update.stalled(r.BLOCKED, awaiting_approval(verdict.missing_permissions))
        update.set(phase="AwaitingApproval", message=message)
        return Outcome(update.patch(), update.ready_event(status), accepted=True)
    update.condition(*permissions_approved())
    target = f"{verdict.resolved.module_id} {verdict.resolved.version}"
    message = f"accepted {target}; queued for the lifecycle worker"
    phase = "Updating" if installed else "Pending"
    update.reconciling(r.PENDING, message).set(phase=phase, message=message)
    return Outcome(update.patch(), update.ready_event(status), accepted=True)


def catalog_warnings(
    body: Mapping[str, Any], catalog: Catalog, now: datetime | None = None
) -> list[dict[str, Any]] | None:
    """The running installation's conditions when what it runs changed in the catalog, or None
    when nothing changes. It keeps running in every case:

    - its Module was deleted (withdrawn by its publisher): ``Resolved=False ModuleWithdrawn``,
      until a Module of that version is published again;
    - a rescan (a new vulnerability database) put the version below the minimum:
      ``Scanned=False SecurityScoreTooLow``; ``Scanned=True`` again when a later rescan passes.
    """
    status = body.get("status") or {}
    installed = status.get("installedVersion")
    if not installed or status.get("phase") != "Active":  # settled only: a workflow at work
        return None  # writes its own conditions
    module_id = str((body.get("spec") or {}).get("module", ""))
    update = StatusUpdate(
        status, int(status.get("observedGeneration") or generation(body)), now or datetime.now(UTC)
    )
    entry = catalog.entry(module_id, str(installed))
    wanted: dict[str, tuple[ConditionStatus, str, str]] = {}
    resolved = update.get_condition(c.RESOLVED) or {}
    if entry is None:
        wanted[c.RESOLVED] = (
            "False",
            r.MODULE_WITHDRAWN,
            f"the Module of {module_id} {installed} was deleted; this installation keeps running "
            "it (pinned by digest); update it to a published version, or uninstall it",
        )
    elif resolved.get("reason") == r.MODULE_WITHDRAWN:
        wanted[c.RESOLVED] = (
            "True",
            r.RESOLVED_REASON,
            f"{module_id} {installed} (Module {entry.name}) is published again",
        )
    if entry is not None and entry.security_score is not None:
        score = f"{module_id} {installed} (Module {entry.name}) scores {entry.security_score}"
        if entry.phase == "Rejected":
            wanted[c.SCANNED] = (
                "False",
                r.SECURITY_SCORE_TOO_LOW,
                f"{score} since its last scan, below the minimum: it is refused to new "
                "installs; this installation keeps running: update it to a version that passes",
            )
        elif entry.phase == "Available":
            wanted[c.SCANNED] = ("True", r.SCAN_PASSED, f"{score} since its last scan")
    changed = False
    for type_, (state, reason, message) in wanted.items():
        current = update.get_condition(type_) or {}
        if (current.get("status"), current.get("reason")) != (state, reason):
            update.condition(type_, state, reason, message)
            changed = True
    if not changed:
        return None
    conditions: list[dict[str, Any]] = update.patch()["conditions"]
    return conditions


def awaiting_judgement(body: Mapping[str, Any], catalog: Catalog) -> bool:
    """Whether a version of the installation's module has not been judged yet (a Module the
    operator has not handled: no phase). Refusing the installation now would be a verdict on
    half the catalog (on a cold start, or when GitOps applies a Module with its installations,
    the refusal and its Warning would be reversed a moment later); its Module's judgement
    revisits it instead."""
    module_id = str((body.get("spec") or {}).get("module") or "")
    return any(entry.phase is None for entry in catalog.versions(module_id))
