"""The scan activity: fetch an artifact by digest, scan it, keep the verdict; once per digest.

Why it exists: scanning is slow and its verdict depends only on the artifact's bytes and what it
is judged by (the vulnerability database, the rules), so it runs in the worker as a retryable
activity and its verdict is cached in PostgreSQL by (digest, database version, rules version):
two Modules on the same artifact, or a retried activity, cost one scan. A missing or mismatched
artifact fails for good (the reason names it); a scanner that cannot run is retried.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from temporalio import activity

from adx_modules.api import reasons as r
from adx_modules.api.artifacts import PACKAGE_LAYER, WASM_LAYERS
from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.scanning.contract import ScanActivities, ScanRequest, ScanVerdict
from adx_modules.catalog.scanning.scan import ScanReport, rules_version, scan_package, scan_wasm
from adx_modules.catalog.scanning.trivy import ScannerError, TrivyOptions, ensure_database
from adx_modules.clients.errors import InvalidError, NotFoundError
from adx_modules.clients.oci import fetch_layer, parse_pinned
from adx_modules.clients.postgres import ScanRecord, Store
from adx_modules.core.errors import StepError
from adx_modules.core.metrics import SCAN_RESULTS
from adx_modules.core.settings import Settings

LAYERS = {"package": (PACKAGE_LAYER,), "wasm": WASM_LAYERS}


def loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0].strip("[]") if ":" in registry else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Scanner:
    """The scan activity, with the store that caches verdicts and the worker's settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        cache = settings.security.scan_cache_dir or str(Path(tempfile.gettempdir(), "adx-trivy"))
        database = settings.security.vulnerability_db
        self._trivy = TrivyOptions(
            cache_dir=Path(cache),
            db_repository=database,
            insecure=settings.registry.insecure and loopback(database.split("/", 1)[0]),
        )

    def _insecure(self, registry: str) -> bool:
        if not self._settings.registry.insecure:
            return False
        if not loopback(registry):
            raise StepError(
                r.ARTIFACT_INVALID,
                f"{registry}: registry.insecure (plain HTTP) is honoured for a loopback "
                "registry only; serve this one over TLS",
            )
        return True

    def _scan(self, request: ScanRequest, insecure: bool) -> ScanReport:
        workdir = Path(tempfile.mkdtemp(prefix="adx-fetch-"))
        try:
            fetched = fetch_layer(
                request.reference,
                workdir / "artifact",
                media_types=LAYERS[request.kind],
                insecure=insecure,
            )
            spec = ModuleSpec.model_validate(request.spec)
            if request.kind == "wasm":
                return scan_wasm(fetched.path.read_bytes(), spec)
            return scan_package(fetched.path, spec, self._trivy)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    @activity.defn(name=ScanActivities.SCAN_ARTIFACT)
    async def scan_artifact(self, request: ScanRequest) -> ScanVerdict:
        """The verdict on ``request.reference``: from the cache, or scanned now and cached."""
        try:
            registry, _, digest = parse_pinned(request.reference)
        except InvalidError as error:
            raise StepError(r.ARTIFACT_INVALID, f"Module {request.module}: {error}") from None
        try:
            database = await asyncio.to_thread(ensure_database, self._trivy)
        except ScannerError as error:
            raise StepError(r.SCANNER_UNAVAILABLE, str(error)) from None
        versions = (database, rules_version())
        cached = await self._store.scan(digest, *versions)
        if cached is None:
            insecure = self._insecure(registry)
            try:
                report = await asyncio.to_thread(self._scan, request, insecure)
            except NotFoundError as error:
                raise StepError(r.ARTIFACT_NOT_FOUND, f"Module {request.module}: {error}") from None
            except InvalidError as error:
                raise StepError(r.ARTIFACT_INVALID, f"Module {request.module}: {error}") from None
            except ScannerError as error:
                raise StepError(r.SCANNER_UNAVAILABLE, str(error)) from None
            passed = report.score >= self._settings.security.min_security_score
            for severity, count in report.counts.items():
                SCAN_RESULTS.labels(severity, "passed" if passed else "failed").inc(count)
            cached = await self._store.record_scan(
                ScanRecord(
                    digest=digest,
                    db_version=versions[0],
                    rules_version=versions[1],
                    score=report.score,
                    counts=report.counts,
                    findings=[asdict(finding) for finding in report.findings],
                )
            )
            fresh = True
        else:
            fresh = False
        return ScanVerdict(
            digest=cached.digest,
            db_version=cached.db_version,
            rules_version=cached.rules_version,
            score=cached.score,
            counts=cached.counts,
            findings=len(cached.findings),
            cached=not fresh,
        )
