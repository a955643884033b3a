"""The database watch's activities: pull a new vulnerability database, rescan what it outdates.

Why it exists: the watch workflow decides when; these do the I/O. Pulling is one HEAD request
when nothing changed. Starting the rescans is idempotent: each Module's scan workflow has one id,
so a retried activity joins the rescans it already started instead of doubling them.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client

from adx_modules.api import reasons as r
from adx_modules.api.module import MODULE
from adx_modules.catalog.scanning.activities import trivy_options
from adx_modules.catalog.scanning.contract import ScanActivities, ScanRequest
from adx_modules.catalog.scanning.start import start_scan_workflow
from adx_modules.catalog.scanning.trivy import ScannerError, ensure_database
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.settings import Settings


class Rescans:
    """The watch's activities, with the clients they need."""

    def __init__(self, kube: KubeClient, client: Client, settings: Settings) -> None:
        self._kube = kube
        self._client = client
        self._settings = settings

    @activity.defn(name=ScanActivities.REFRESH_DATABASE)
    async def refresh_database(self) -> str:
        """The database version now, pulled first if its repository serves a new one."""
        options = trivy_options(self._settings)
        try:
            return await asyncio.to_thread(ensure_database, options, check_remote=True)
        except ScannerError as error:
            raise StepError(r.SCANNER_UNAVAILABLE, str(error)) from None

    @activity.defn(name=ScanActivities.RESCAN_OUTDATED)
    async def rescan_outdated(self, version: str) -> int:
        """Start a rescan of every Module judged with another database version; how many."""
        started = 0
        for module in await self._kube.list_custom(MODULE):
            metadata, status = module.get("metadata") or {}, module.get("status") or {}
            judged = status.get("databaseVersion")
            if not judged or judged == version or metadata.get("deletionTimestamp"):
                continue
            request = ScanRequest.of(module, rescan=True)
            await start_scan_workflow(self._client, self._settings.temporal.task_queue, request)
            started += 1
        activity.logger.info("database %s: %d Modules to rescan", version, started)
        return started
