"""Reporting the lifecycle on the ModuleInstallation's status: phase, step, progress, conditions.

Why it exists: the CR is where users look (``kubectl get mi`` shows the phase and the step).
A workflow reports through this activity only; a report for a generation that is no longer
current is dropped, so a superseded workflow never overwrites what its successor says.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.lifecycle import Activities, StatusReport
from adx_modules.api.status import StatusUpdate
from adx_modules.clients.kube import KubeClient, NotFoundError


class StatusActivities:
    """Writes the installation's status subresource."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    @activity.defn(name=Activities.REPORT)
    async def report(self, report: StatusReport) -> bool:
        """Apply ``report``; False when the object is gone or has moved on."""
        ref = report.ref
        try:
            body = await self._kube.get(INSTALLATION, ref.name, ref.namespace)
        except NotFoundError:
            return False
        metadata = body.get("metadata", {})
        if metadata.get("uid") != ref.uid or metadata.get("generation") != ref.generation:
            return False
        status = body.get("status") or {}
        update = StatusUpdate(status, ref.generation, datetime.now(UTC))
        for type_ in report.clear:
            update.clear(type_)
        for change in report.conditions:
            update.condition(change.type, change.status, change.reason, change.message)
        if report.rollup == "ready":
            update.ready(report.reason, report.message)
        elif report.rollup == "reconciling":
            update.reconciling(report.reason, report.message)
        elif report.rollup == "stalled":
            update.stalled(report.reason, report.message)
        workflow = (
            None
            if report.done
            else {"id": report.workflow_id, "step": report.step, "progress": report.progress}
        )
        update.set(workflow=workflow, **report.fields)
        if report.failure is not None:
            counts = status.get("failures") or {}
            total = counts.get("total", 0) + (1 if report.failure else 0)
            consecutive = counts.get("consecutive", 0) + 1 if report.failure else 0
            update.set(failures={"consecutive": consecutive, "total": total})
        if report.revision is not None:
            history = [
                r
                for r in status.get("history") or []
                if r.get("revision") != report.revision["revision"]
            ]
            update.set(history=[*history, report.revision][-20:])
        if report.phase:
            update.set(phase=report.phase)
        if report.message:
            update.set(message=report.message)
        await self._kube.patch_status(INSTALLATION, ref.name, update.patch(), ref.namespace)
        if (report.phase and report.phase != status.get("phase")) or report.done:
            # one Event per meaningful step: a new phase, or the end of the workflow
            kind = "Warning" if report.rollup == "stalled" else "Normal"
            reason = report.reason if report.done and report.reason else report.phase
            await self._kube.post_event(
                body, kind, reason or "Progress", report.message or f"step {report.step}"
            )
        return True
