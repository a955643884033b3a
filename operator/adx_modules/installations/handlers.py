"""Kopf handlers of ``ModuleInstallation``: check, then hand the lifecycle to Temporal.

Why it exists: the apiserver checks the shape; this checks what needs the catalog (the module
exists, a version matching the constraint is Available, the isolation fits and is enabled, the
configuration satisfies the module's configSchema) and answers at once. An accepted generation
is then installed or updated by a Temporal workflow whose id is derived from the object's uid
and generation: running this handler again (a retry, an operator restart) attaches to the same
workflow, never starts a second one. Deletion runs the uninstall workflow behind the finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import (
    INSTALLATION,
    ModuleInstallationSpec,
    ModuleInstallationStatus,
)
from adx_modules.api.meta import GROUP, VERSION
from adx_modules.catalog.index import catalog_from
from adx_modules.catalog.model import Catalog
from adx_modules.catalog.resolver.model import ResolutionError
from adx_modules.clients.errors import NotFoundError, UnavailableError
from adx_modules.core import failpoints
from adx_modules.core.context import OperatorContext
from adx_modules.core.metrics import RECONCILES, WORKFLOWS_STARTED
from adx_modules.core.refs import InstallationRef
from adx_modules.core.status import StatusUpdate
from adx_modules.installations.admission import awaiting_judgement, installation_outcome
from adx_modules.installations.contract import LifecycleRequest, workflow_id
from adx_modules.installations.dependencies import dependents_of, plan
from adx_modules.installations.workflows.install import InstallModuleWorkflow
from adx_modules.installations.workflows.uninstall import UninstallModuleWorkflow
from adx_modules.installations.workflows.update import UpdateModuleWorkflow

UNINSTALL_WAIT = 20.0  # seconds a delete handler waits before Kopf re-checks
RETRY_DELAY = 10  # seconds before Kopf retries a handler that could not reach Temporal
RECENT_GENERATIONS = 3  # generations before the delete whose workflows an uninstall looks for

LOG = logging.getLogger("adx_modules.installations")


def reference(body: Mapping[str, Any]) -> InstallationRef:
    metadata = body["metadata"]
    return InstallationRef(
        namespace=metadata["namespace"],
        name=metadata["name"],
        uid=metadata["uid"],
        generation=int(metadata.get("generation") or 1),
    )


def current_status(body: Mapping[str, Any]) -> ModuleInstallationStatus:
    """The fields the operator wrote into the status, read through the model (conditions are
    StatusUpdate's to read)."""
    raw = {k: v for k, v in (body.get("status") or {}).items() if k != "conditions"}
    return ModuleInstallationStatus.model_validate(raw)


def status_update(body: Mapping[str, Any], ref: InstallationRef) -> StatusUpdate:
    """A change to the installation's status, checked against its model."""
    return StatusUpdate(
        body.get("status"), ref.generation, datetime.now(UTC), ModuleInstallationStatus
    )


def actor(body: Mapping[str, Any]) -> str:
    """Who last changed the spec: the newest field manager that owns part of it."""
    managers = [
        entry
        for entry in body.get("metadata", {}).get("managedFields") or []
        if "f:spec" in (entry.get("fieldsV1") or {})
    ]
    if not managers:
        return "unknown"
    newest = max(managers, key=lambda entry: entry.get("time") or "")
    return str(newest.get("manager") or "unknown")


async def _retrying(context: OperatorContext, ref: InstallationRef, why: str) -> None:
    """Say on the object that a transient failure is being retried (reason Retrying)."""
    try:
        body = await context.kube.get_custom(INSTALLATION, ref.name, ref.namespace)
    except NotFoundError:
        return
    update = status_update(body, ref)
    message = f"{why}; retrying in {RETRY_DELAY}s"
    update.reconciling(r.RETRYING, message).set(message=message)
    await context.kube.patch_status(INSTALLATION, ref.name, update.patch(), ref.namespace)


async def _exists(context: OperatorContext, ref: InstallationRef, id_: str) -> bool:
    try:
        await context.temporal.get_workflow_handle(id_).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        await _retrying(context, ref, f"Temporal is unavailable ({error})")
        raise kopf.TemporaryError(f"Temporal is unavailable: {error}", delay=RETRY_DELAY) from error
    return True


async def reconcile(context: OperatorContext, body: Mapping[str, Any], catalog: Catalog) -> None:
    """Level-triggered: bring this generation to its workflow (or explain why not)."""
    ref = reference(body)
    # waiting for dependencies is decided afresh each time (_dependencies_pending puts it back,
    # from the live catalog): one suspended or refused since is not revisited for nothing
    context.waiting_for_dependencies.discard((ref.namespace, ref.name))
    current = current_status(body)
    spec = body.get("spec") or {}
    if spec.get("suspend"):  # say so, change nothing else (a running workflow finishes)
        update = status_update(body, ref).clear(c.RECONCILING)
        message = "suspended: nothing changes until spec.suspend is false"
        await context.kube.patch_status(
            INSTALLATION, ref.name, update.set(message=message).patch(), ref.namespace
        )
        return
    installed = bool(current.installed_version)
    id_ = workflow_id(ref)
    # a generation's workflow starts only after its admission wrote observedGeneration: a
    # generation never admitted has none (asking Temporal would cost a round trip per new
    # installation); one admitted may have one, running or finished (status.workflow is
    # cleared when it ends, so that is no sign)
    admitted = (body.get("status") or {}).get("observedGeneration") == ref.generation
    if admitted and await _exists(context, ref, id_):
        RECONCILES.labels("ModuleInstallation", "in-hand").inc()
        return  # this generation is (or was) being handled
    outcome = installation_outcome(body, catalog, context.settings.sandbox, installed=installed)
    if not outcome.accepted and awaiting_judgement(body, catalog):
        RECONCILES.labels("ModuleInstallation", "deferred").inc()
        return  # no verdict on half a catalog: the Module's judgement revisits it (revisit.py)
    if outcome.accepted and not spec.get("dryRun"):
        waiting = await _dependencies_pending(context, body, catalog)
        if waiting is not None:
            RECONCILES.labels("ModuleInstallation", "deferred").inc()
            return  # a dependency's judgement revisits it (revisit.py)
    RECONCILES.labels("ModuleInstallation", "accepted" if outcome.accepted else "rejected").inc()
    patch = dict(outcome.patch)
    if outcome.accepted and not spec.get("dryRun"):
        patch["workflow"] = {"id": id_, "step": "queued", "progress": 0}
        patch["plan"] = []  # a dry run's plan is history once the real thing starts
    await context.kube.patch_status(INSTALLATION, ref.name, patch, ref.namespace)
    if outcome.event:
        kopf.event(
            kopf.Body(dict(body)),  # type: ignore[arg-type]
            type=outcome.event[0],
            reason=outcome.event[1],
            message=outcome.event[2],
        )
    if not outcome.accepted:
        return
    if spec.get("dryRun"):
        await _preview(context, body, catalog)
        return
    request = LifecycleRequest(
        ref=ref,
        spec=ModuleInstallationSpec.model_validate(spec),
        actor=actor(body),
        previous_workflow_id=current.workflow.id if current.workflow else None,
    )
    run = UpdateModuleWorkflow.run if installed else InstallModuleWorkflow.run
    await _start(context, run, request, id_)


async def _dependencies_pending(
    context: OperatorContext, body: Mapping[str, Any], catalog: Catalog
) -> str | None:
    """What the installation waits for, when its dependencies cannot be resolved yet and a
    module they need is not published or still being judged (GitOps applied the Modules with
    the installation, say: failing it now would fail it for good a moment before the scan
    passes); said in its status once. None when it may go ahead (or its dependencies fail on
    judged Modules only: the workflow says so)."""
    spec = body.get("spec") or {}
    ref = reference(body)
    waiter = (ref.namespace, ref.name)
    pending = catalog.pending_dependencies(str(spec.get("module", "")))
    if not pending:
        return None
    # before the first await: a Module judged from here on revisits this installation (the
    # catalog is live, so the revisit sees the judgement; waiting for this status to come
    # back through the watch would lose a judgement that lands in between)
    context.waiting_for_dependencies.add(waiter)
    installations = await context.kube.list_custom(INSTALLATION, ref.namespace)
    try:
        plan(ref.name, spec["module"], spec.get("version", "*"), catalog, installations)
    except ResolutionError as error:
        message = f"waiting for {', '.join(pending[:3])}: {error}"
    else:
        context.waiting_for_dependencies.discard(waiter)
        return None
    await failpoints.pause("dependencies:deferred", f"{ref.namespace}/{ref.name}")
    if (body.get("status") or {}).get("message") != message:
        update = status_update(body, ref).condition(
            c.RESOLVED, "Unknown", r.DEPENDENCY_PENDING, message
        )
        await context.kube.patch_status(
            INSTALLATION, ref.name, update.set(message=message).patch(), ref.namespace
        )
    return message


async def _start(
    context: OperatorContext, run: Any, request: LifecycleRequest, id_: str
) -> WorkflowHandle[Any, Any]:
    """Start ``id_`` once: attach if it runs, refuse to run a finished one again."""
    client = context.temporal
    try:
        handle = await client.start_workflow(
            run,
            request,
            id=id_,
            task_queue=context.settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        WORKFLOWS_STARTED.labels(run.__qualname__.split(".")[0]).inc()
        LOG.info(
            "workflow %s started (or already running) for %s/%s",
            id_,
            request.ref.namespace,
            request.ref.name,
            extra={
                "workflow_id": id_,
                "k8s_ref": {"kind": INSTALLATION.kind, **request.ref.model_dump()},
            },
        )
        return handle
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(id_)
    except RPCError as error:
        await _retrying(context, request.ref, f"cannot start the lifecycle workflow: {error}")
        raise kopf.TemporaryError(f"cannot start {id_}: {error}", delay=RETRY_DELAY) from error


async def _preview(context: OperatorContext, body: Mapping[str, Any], catalog: Catalog) -> None:
    """spec.dryRun: show what installing would do; start nothing."""
    ref = reference(body)
    spec = body.get("spec") or {}
    installations = await context.kube.list_custom(INSTALLATION, ref.namespace)
    update = status_update(body, ref)
    try:
        planned = plan(ref.name, spec["module"], spec.get("version", "*"), catalog, installations)
    except ResolutionError as error:
        update.condition(c.RESOLVED, "False", r.DEPENDENCY_CONFLICT, str(error))
        update.stalled(r.DEPENDENCY_CONFLICT, f"dry run: {error}").set(plan=[], message=str(error))
    else:
        steps = [
            {
                "moduleId": d.module_id,
                "version": d.version,
                "installation": d.installation,
                "action": "install" if d.create else "keep",
            }
            for d in planned.dependencies
        ]
        steps.append(
            {
                "moduleId": spec["module"],
                "version": planned.version,
                "installation": ref.name,
                "action": "install",
            }
        )
        wanted = ", ".join(
            f"{s['moduleId']} {s['version']}" for s in steps if s["action"] == "install"
        )
        message = f"dry run: would install {wanted}; set spec.dryRun to false to go ahead"
        update.condition(c.RESOLVED, "True", r.RESOLVED_REASON, message)
        update.condition(c.READY, "False", r.DRY_RUN, message).clear(c.RECONCILING).clear(c.STALLED)
        update.set(plan=steps, message=message, phase="Pending", workflow=None)
    await context.kube.patch_status(INSTALLATION, ref.name, update.patch(), ref.namespace)


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.status)}


@kopf.on.resume(GROUP, VERSION, "moduleinstallations")
@kopf.on.create(GROUP, VERSION, "moduleinstallations")
@kopf.on.update(GROUP, VERSION, "moduleinstallations")
async def reconcile_installation(*, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    context: OperatorContext = memo["context"]
    try:
        await reconcile(context, _plain(body), catalog_from(memo))
    except UnavailableError as error:  # the apiserver is away: Kopf tries again, no traceback
        raise kopf.TemporaryError(str(error), delay=RETRY_DELAY) from None


async def _protect_dependents(
    context: OperatorContext, body: dict[str, Any], spec: ModuleInstallationSpec
) -> None:
    """Refuse to uninstall what others require (the finalizer holds the object) unless the
    uninstall policy says cascade, which deletes the dependents first."""
    ref = reference(body)
    installations = await context.kube.list_custom(INSTALLATION, ref.namespace)
    dependents = dependents_of(ref.name, installations)
    if not dependents:
        return
    listed = ", ".join(dependents)
    if spec.uninstall is not None and spec.uninstall.cascade:
        for name in dependents:
            await context.kube.delete_custom(INSTALLATION, name, ref.namespace)
        raise kopf.TemporaryError(f"cascade: waiting for {listed} to be uninstalled", delay=3)
    message = (
        f"required by {listed}: uninstall those first, or set spec.uninstall.cascade to "
        "uninstall them too"
    )
    update = status_update(body, ref)
    update.stalled(r.REQUIRED_BY_OTHERS, message).set(message=message)
    await context.kube.patch_status(INSTALLATION, ref.name, update.patch(), ref.namespace)
    raise kopf.TemporaryError(message, delay=15)


@kopf.on.delete(GROUP, VERSION, "moduleinstallations")
async def installation_deleted(*, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Behind the finalizer: run the uninstall workflow and wait for it; Kopf re-checks every
    few seconds while it runs. The finalizer comes off when the workflow has ended, whatever
    its outcome (a failure is reported as an Event)."""
    context: OperatorContext = memo["context"]
    plain = _plain(body)
    ref = reference(plain)
    spec = ModuleInstallationSpec.model_validate(plain["spec"])
    try:
        await _protect_dependents(context, plain, spec)
    except UnavailableError as error:
        raise kopf.TemporaryError(str(error), delay=RETRY_DELAY) from None
    current = current_status(plain)
    previous = current.workflow.id if current.workflow else None
    # an edit just before the delete (the API's uninstall options, say) may have started a
    # generation's workflow that neither status.workflow nor the body's observedGeneration
    # shows yet: the generations since the last observed one, newest first (one lookup each)
    observed = int((plain.get("status") or {}).get("observedGeneration") or 0)
    oldest = max(observed, ref.generation - RECENT_GENERATIONS, 1)
    recent = [
        workflow_id(ref.model_copy(update={"generation": generation}))
        for generation in range(ref.generation - 1, oldest - 1, -1)
    ]
    request = LifecycleRequest(
        ref=ref,
        spec=spec,
        actor=actor(plain),
        previous_workflow_id=previous,
        recent_workflow_ids=[other for other in recent if other != previous],
        isolation=current.isolation,
        dependencies=[d.installation for d in current.resolved_dependencies if d.installation],
    )
    id_ = workflow_id(ref, uninstall=True)
    handle = await _start(context, UninstallModuleWorkflow.run, request, id_)
    try:
        result = await asyncio.wait_for(handle.result(), UNINSTALL_WAIT)
    except TimeoutError as error:
        raise kopf.TemporaryError("uninstalling", delay=2) from error
    except WorkflowFailureError as error:
        kopf.event(
            body, type="Warning", reason=r.UNINSTALL_FAILED, message=str(error.cause or error)
        )
        return
    kopf.event(body, type="Normal", reason=str(result), message="the module was uninstalled")
