"""``adx-module-service worker``: the process that does the heavy work.

Why it exists: workflows and activities need their clients (Kubernetes, PostgreSQL, Temporal)
built once and injected; this wires them, applies the database migrations, and serves the task
queue until SIGTERM. Activities run at least once and are idempotent, so a killed worker is
simply replaced: Temporal retries what was in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.worker import Worker

from adx_modules.catalog.scanning.activities import Scanner
from adx_modules.catalog.scanning.contract import DatabaseWatch, ScanActivities
from adx_modules.catalog.scanning.database_watch import WatchVulnerabilityDatabaseWorkflow
from adx_modules.catalog.scanning.rescans import Rescans
from adx_modules.catalog.scanning.workflow import ScanModuleWorkflow
from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core import failpoints
from adx_modules.core.database import open_store
from adx_modules.core.failpoints import Failpoints
from adx_modules.core.failures import FailureBoundary
from adx_modules.core.metrics import ActivityMetrics, WorkflowMetricsBridge
from adx_modules.core.settings import Settings
from adx_modules.core.workflow_metrics import WorkflowMetrics
from adx_modules.installations.activities.dependencies import DependencyActivities
from adx_modules.installations.activities.records import RecordActivities
from adx_modules.installations.activities.report import StatusActivities
from adx_modules.installations.activities.resolve import ResolveActivities
from adx_modules.installations.activities.supersede import SupersedeActivities
from adx_modules.installations.activities.withdraw import WithdrawActivities
from adx_modules.installations.workflows.install import InstallModuleWorkflow
from adx_modules.installations.workflows.revoke import EnforceRevocationWorkflow
from adx_modules.installations.workflows.uninstall import UninstallModuleWorkflow
from adx_modules.installations.workflows.update import UpdateModuleWorkflow
from adx_modules.marketplace.activities.purchases import PurchaseSteps
from adx_modules.marketplace.activities.sync import SyncSteps
from adx_modules.marketplace.contract import SyncRequest, sync_workflow_id
from adx_modules.marketplace.entitlements import Entitlements
from adx_modules.marketplace.payments import providers
from adx_modules.marketplace.projection import CatalogProjection
from adx_modules.marketplace.workflows.purchase import PurchaseWorkflow, RefundPurchaseWorkflow
from adx_modules.marketplace.workflows.sync import SyncMarketplaceWorkflow
from adx_modules.sandboxes.activities import ModuleWorkflowSteps, SandboxSteps, registry
from adx_modules.sandboxes.runner.placement import RunnerPlacement
from adx_modules.sandboxes.runner.records import RunnerRecords
from adx_modules.sandboxes.workflows import ModuleWorkflow
from adx_modules.service.lifetime import serve_until_signalled

LOG = logging.getLogger("adx_modules.worker")
WORKFLOWS = (
    InstallModuleWorkflow,
    UpdateModuleWorkflow,
    UninstallModuleWorkflow,
    ScanModuleWorkflow,
    WatchVulnerabilityDatabaseWorkflow,
    ModuleWorkflow,
    PurchaseWorkflow,
    RefundPurchaseWorkflow,
    EnforceRevocationWorkflow,
    SyncMarketplaceWorkflow,
)


def activities(
    kube: KubeClient, store: Store, client: Client, settings: Settings
) -> list[Callable[..., Any]]:
    """Every activity of every feature, bound to its clients."""
    resolve = ResolveActivities(kube, settings)
    status = StatusActivities(kube, store)
    records = RecordActivities(store)
    supersede = SupersedeActivities(client)
    dependencies = DependencyActivities(kube)
    sandboxes = SandboxSteps(registry(kube, store, settings))
    module_workflows = ModuleWorkflowSteps(settings)
    scanner = Scanner(store, settings, kube)
    rescans = Rescans(kube, client, settings)
    purchases = PurchaseSteps(
        Entitlements(store), kube, providers(settings.marketplace), settings.marketplace
    )
    return [
        resolve.resolve,
        status.report,
        records.last_revision,
        records.backup,
        supersede.supersede,
        dependencies.ensure_dependencies,
        dependencies.wait_installations,
        dependencies.collect_dependencies,
        *sandboxes.all(),
        module_workflows.describe,
        module_workflows.run,
        scanner.scan_artifact,
        scanner.report_scan,
        rescans.refresh_database,
        rescans.rescan_outdated,
        *purchases.all(),
        *SyncSteps(kube, store, settings.marketplace).all(),
        WithdrawActivities(kube).withdraw,
    ]


async def watch_database(client: Client, settings: Settings) -> None:
    """The one database watch of the task queue: started by the first worker, joined by the
    others (and started again if it ever ended)."""
    await client.start_workflow(
        WatchVulnerabilityDatabaseWorkflow.run,
        DatabaseWatch(check_seconds=settings.security.database_check_seconds),
        id=ScanActivities.watch_id(settings.temporal.task_queue),
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def sync_marketplace(client: Client, settings: Settings) -> None:
    """The remote marketplace's sync, started again with these settings (a running one,
    started with older settings, is replaced); ended when no remote is set."""
    workflow_id = sync_workflow_id(settings.temporal.task_queue)
    market = settings.marketplace
    if not market.base_url:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate("marketplace.base_url unset")
        return
    await client.start_workflow(
        SyncMarketplaceWorkflow.run,
        SyncRequest(base_url=market.base_url, interval_seconds=market.sync_interval_seconds),
        id=workflow_id,
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the worker until ``stop`` is set."""
    workflow_metrics = WorkflowMetricsBridge()
    client = await temporal.connect(
        settings.temporal.address, settings.temporal.namespace, runtime=workflow_metrics.runtime
    )
    async with (
        await KubeClient.connect() as kube,
        await open_store(settings.database) as store,
    ):
        applied = await store.migrate()
        if applied:
            LOG.info("applied migrations: %s", ", ".join(applied))
        await RunnerPlacement(settings.runner, kube).converge(await RunnerRecords(store).tenants())
        worker = Worker(
            client,
            task_queue=settings.temporal.task_queue,
            workflows=list(WORKFLOWS),
            activities=activities(kube, store, client, settings),
            max_concurrent_activities=100,
            interceptors=[
                ActivityMetrics(),
                WorkflowMetrics(),
                FailureBoundary(),
                *([Failpoints()] if failpoints.armed() else []),
            ],
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        async with worker:
            if settings.security.scanning_enabled:
                await watch_database(client, settings)
            await sync_marketplace(client, settings)
            projection = CatalogProjection(
                kube, store, analytics=settings.marketplace.enable_analytics
            )
            projecting = asyncio.create_task(projection.run(stop))
            counting = asyncio.create_task(workflow_metrics.run(stop))
            LOG.info(
                "worker serving %s on %s", settings.temporal.task_queue, settings.temporal.address
            )
            await stop.wait()
            await asyncio.gather(projecting, counting)


def run(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM, then leave without the interpreter's exit-time teardown
    (the temporalio SDK can crash it after the work is done: sdk-python issue 300)."""
    os._exit(serve_until_signalled("worker", serve, settings))
