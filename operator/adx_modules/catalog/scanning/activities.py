"""The scan activities: a Module's artifact scanned by digest, once per digest, and its verdict
written on the Module.

Why it exists: scanning is slow and its verdict depends only on the artifact's bytes and what it
is judged by (the vulnerability database, the rules), so it runs in the worker as a retryable
activity and its verdict is cached in PostgreSQL by (digest, database version, rules version):
two Modules on the same artifact, or a retried activity, cost one scan. The artifact is resolved
to a digest before anything else (a tag is asked once) and fetched by that digest. A missing or
mismatched artifact fails for good (the reason names it); a scanner or registry that cannot be
reached is retried.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.api.module import MODULE, ModuleSpec
from adx_modules.catalog.artifacts import ArtifactFetcher, Located, loopback
from adx_modules.catalog.scanning.contract import (
    ScanActivities,
    ScanRequest,
    ScanStatus,
    ScanVerdict,
)
from adx_modules.catalog.scanning.findings import worst
from adx_modules.catalog.scanning.scan import (
    ScanReport,
    rules_version,
    scan_image,
    scan_package,
    scan_wasm,
)
from adx_modules.catalog.scanning.sources import Source, source_of
from adx_modules.catalog.scanning.trivy import ScannerError, TrivyOptions, ensure_database
from adx_modules.catalog.scanning.verdict import scan_outcome
from adx_modules.clients.errors import InvalidError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import ScanRecord, Store
from adx_modules.core.errors import StepError
from adx_modules.core.heartbeats import heartbeating
from adx_modules.core.metrics import SCAN_RESULTS
from adx_modules.core.settings import Settings
from adx_modules.core.status import changes


def trivy_options(settings: Settings) -> TrivyOptions:
    """Where the worker's Trivy keeps its cache and database, and where it pulls the database."""
    cache = settings.security.scan_cache_dir or str(Path(tempfile.gettempdir(), "adx-trivy"))
    database = settings.security.vulnerability_db
    return TrivyOptions(
        cache_dir=Path(cache),
        db_repository=database,
        insecure=settings.registry.insecure and loopback(database.split("/", 1)[0]),
    )


class Scanner:
    """The scan activities, with the store that caches verdicts, the Kubernetes client that
    reads ConfigMaps and writes Module status, and the worker's settings."""

    def __init__(self, store: Store, settings: Settings, kube: KubeClient | None = None) -> None:
        self._store = store
        self._kube = kube
        self._settings = settings
        self._trivy = trivy_options(settings)
        self._artifacts = ArtifactFetcher(settings.registry, kube)

    def _scan(
        self, source: Source, located: Located, spec: ModuleSpec, workdir: Path
    ) -> ScanReport:
        if source.kind == "image":
            insecure = self._artifacts.insecure(located.fetch_from.split("/", 1)[0])
            return scan_image(located.fetch_from, spec, self._trivy, insecure=insecure)
        path, _ = self._artifacts.content(source, located, workdir)
        if source.kind == "wasm":
            return scan_wasm(path.read_bytes(), spec)
        return scan_package(path, spec, self._trivy)

    @activity.defn(name=ScanActivities.SCAN_ARTIFACT)
    async def scan_artifact(self, request: ScanRequest) -> ScanVerdict:
        """The verdict on the Module's artifact: from the cache, or scanned now and cached."""
        where = f"Module {request.module}"
        try:
            spec = ModuleSpec.model_validate(request.spec)
            source = source_of(spec)
        except (ValidationError, InvalidError) as error:
            raise StepError(r.ARTIFACT_INVALID, f"{where}: {error}") from None
        async with heartbeating(f"scanning {where}"):
            try:
                database = await asyncio.to_thread(ensure_database, self._trivy)
            except ScannerError as error:
                raise StepError(r.SCANNER_UNAVAILABLE, str(error)) from None
            versions = (database, rules_version())
            workdir = Path(tempfile.mkdtemp(prefix="adx-fetch-"))
            try:
                return await self._scan_in(request, source, spec, versions, workdir)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

    async def _scan_in(
        self,
        request: ScanRequest,
        source: Source,
        spec: ModuleSpec,
        versions: tuple[str, str],
        workdir: Path,
    ) -> ScanVerdict:
        where = f"Module {request.module}"
        try:
            located = await self._artifacts.locate(source, workdir)
            cached = await self._store.scan(located.digest, *versions)
            fresh = cached is None
            if cached is None:
                report = await asyncio.to_thread(self._scan, source, located, spec, workdir)
                cached = await self._store.record_scan(
                    ScanRecord(
                        digest=located.digest,
                        db_version=versions[0],
                        rules_version=versions[1],
                        score=report.score,
                        counts=report.counts,
                        findings=[asdict(finding) for finding in report.findings],
                    )
                )
        except NotFoundError as error:
            raise StepError(r.ARTIFACT_NOT_FOUND, f"{where}: {error}") from None
        except InvalidError as error:
            raise StepError(r.ARTIFACT_INVALID, f"{where}: {error}") from None
        except ScannerError as error:
            raise StepError(r.SCANNER_UNAVAILABLE, str(error)) from None
        minimum = self._settings.security.min_security_score
        verdict = ScanVerdict(
            reference=located.reference,
            digest=cached.digest,
            db_version=cached.db_version,
            rules_version=cached.rules_version,
            score=cached.score,
            minimum=minimum,
            counts=cached.counts,
            findings=len(cached.findings),
            worst=worst(cached.findings),
            cached=not fresh,
        )
        if fresh:  # findings counted once per scan run, not per cache hit
            outcome = "passed" if verdict.passed else "failed"
            for severity, count in cached.counts.items():
                SCAN_RESULTS.labels(severity, outcome).inc(count)
        return verdict

    @activity.defn(name=ScanActivities.REPORT_SCAN)
    async def report_scan(self, status: ScanStatus) -> bool:
        """Write the scan's state on its Module (only the object scanned: same uid); whether
        it was there to write on."""
        if self._kube is None:
            raise StepError(r.STEP_FAILED, "the scanner has no Kubernetes client to report with")
        try:
            body = await self._kube.get_custom(MODULE, status.module)
        except NotFoundError:
            return False
        if body.get("metadata", {}).get("uid") != status.uid:
            return False
        outcome = scan_outcome(body, status, datetime.now(UTC))
        if changes(body.get("status"), outcome.patch):
            await self._kube.patch_status(MODULE, status.module, outcome.patch)
        if outcome.event:
            kind, reason, message = outcome.event
            await self._kube.post_event(body, kind, reason, message)
        return True
