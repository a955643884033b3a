"""Reporting a step: the installation's record and audit trail, then its status and an Event.

Why it exists: the CR is where users look (``kubectl get mi`` shows the phase and the step) and
PostgreSQL is where the history is kept; a workflow reports each step through this one activity
(one round trip instead of three). Records are written first, so a Ready status implies the
record exists. A status report for a generation that is no longer current is dropped, so a
superseded workflow never overwrites what its successor says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION, ModuleInstallationStatus
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core import failpoints
from adx_modules.core.status import StatusUpdate
from adx_modules.installations.activities.records import write_audit, write_record
from adx_modules.installations.contract import Activities, StatusReport


def apply_report(status: dict[str, Any], report: StatusReport) -> StatusUpdate:
    """The status update a report means, given the current status. Pure."""
    update = StatusUpdate(
        status, report.ref.generation, datetime.now(UTC), ModuleInstallationStatus
    )
    for type_ in report.clear:
        update.clear(type_)
    for change in report.conditions:
        update.condition(change.type, change.status, change.reason, change.message)
    rollups = {"ready": update.ready, "reconciling": update.reconciling, "stalled": update.stalled}
    if report.rollup:
        rollups[report.rollup](report.reason, report.message)
    workflow = (
        None
        if report.done
        else {"id": report.workflow_id, "step": report.step, "progress": report.progress}
    )
    update.set(workflow=workflow, **report.fields)
    counts = status.get("failures") or {}
    if report.failure is not None and counts.get("lastWorkflow") != report.workflow_id:
        # once per workflow: a report retried after its status was written counts nothing
        total = counts.get("total", 0) + (1 if report.failure else 0)
        consecutive = counts.get("consecutive", 0) + 1 if report.failure else 0
        update.set(
            failures={
                "consecutive": consecutive,
                "total": total,
                "lastWorkflow": report.workflow_id,
            }
        )
    if report.revision is not None:
        number = report.revision["revision"]
        history = [r for r in status.get("history") or [] if r.get("revision") != number]
        update.set(history=[*history, report.revision][-20:])
    if report.phase:
        update.set(phase=report.phase)
    if report.message:
        update.set(message=report.message)
    return update


class StatusActivities:
    """Writes the installation's status subresource and its records."""

    def __init__(self, kube: KubeClient, store: Store) -> None:
        self._kube = kube
        self._store = store

    @activity.defn(name=Activities.REPORT)
    async def report(self, report: StatusReport) -> bool:
        """Apply ``report``; False when the status was not written (the object is gone or has
        moved on to a newer generation)."""
        ref = report.ref
        if report.record is not None:
            await write_record(self._store, report.record)
        await write_audit(
            self._store,
            ref,
            workflow_id=report.workflow_id,
            action=report.action,
            actor=report.actor,
            entries=report.audit,
        )
        failpoints.reach("report:recorded")
        try:
            body = await self._kube.get_custom(INSTALLATION, ref.name, ref.namespace)
        except NotFoundError:
            return False
        metadata = body.get("metadata", {})
        if metadata.get("uid") != ref.uid or metadata.get("generation") != ref.generation:
            return False
        status = body.get("status") or {}
        update = apply_report(status, report)
        await self._kube.patch_status(INSTALLATION, ref.name, update.patch(), ref.namespace)
        failpoints.reach("report:failure-counted" if report.failure else "report:status")
        if (report.phase and report.phase != status.get("phase")) or report.done:
            # one Event per meaningful step: a new phase, or the end of the workflow
            kind = "Warning" if report.rollup == "stalled" else "Normal"
            reason = report.reason if report.done and report.reason else report.phase
            message = report.message or f"step {report.step}"
            try:
                await self._kube.post_event(body, kind, reason or r.STEP, message)
            except ClientError as error:  # best effort: e.g. a namespace being deleted
                activity.logger.info("no Event for %s: %s", ref.name, error)
        return True
