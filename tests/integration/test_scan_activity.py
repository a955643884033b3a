"""The scan activity against the real registry, PostgreSQL and Trivy: a published package is
fetched by digest, scanned and its verdict stored; the same digest again (another Module, a
retried activity) is answered from the cache without running a scanner; a missing artifact and
an insecure non-loopback registry fail for good, naming why; a tag is resolved to its digest
first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from adx_modules.api import reasons as r
from adx_modules.authoring.manifest import read_manifest
from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import scaffold
from adx_modules.catalog.scanning import trivy
from adx_modules.catalog.scanning.activities import Scanner, loopback
from adx_modules.catalog.scanning.contract import ScanRequest
from adx_modules.clients.postgres import Store
from adx_modules.core.errors import StepError
from adx_modules.core.settings import load_settings
from support.stack import StackInfo

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
async def scanner(stack: StackInfo, db_schema: str, tmp_path: Path) -> AsyncIterator[Scanner]:
    settings = load_settings(
        environ={
            "ADX_REGISTRY_INSECURE": "true",
            "ADX_SECURITY_SCAN_CACHE_DIR": str(tmp_path / "trivy"),
            "ADX_SECURITY_VULNERABILITY_DB": stack.env["ADX_SECURITY_VULNERABILITY_DB"],
        }
    )
    async with await Store.connect(stack.database_url, schema=db_schema) as store:
        await store.migrate()
        yield Scanner(store, settings)


def failed_criticals() -> float:
    labels = {"severity": "critical", "verdict": "failed"}
    return REGISTRY.get_sample_value("security_scan_results_total", labels) or 0.0


def request(module: str, spec: dict[str, object], reference: str | None = None) -> ScanRequest:
    """The scan of ``spec`` (its package at ``reference`` when given)."""
    if reference is not None:
        spec = {**spec, "artifact": {"package": {"oci": reference}}}
    return ScanRequest(module=module, uid=f"uid-{module}", spec=spec)


def published(
    stack: StackInfo, tmp_path: Path, extra: dict[str, str] | None = None
) -> tuple[str, dict[str, object]]:
    directory = tmp_path / "module"
    scaffold(directory, "scanned", "python")
    for name, text in (extra or {}).items():
        (directory / name).write_text(text)
    package = build(directory / "manifest.json", tmp_path / "m.adx").path
    reference = publish(package, stack.env["ADX_REGISTRY_ADDRESS"], insecure=True).reference
    spec = {
        **read_manifest(directory / "manifest.json"),
        "artifact": {"package": {"oci": reference}},
    }
    return reference, spec


async def test_scanned_once_then_answered_from_the_cache(
    scanner: Scanner, stack: StackInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, spec = published(stack, tmp_path, {"settings.py": f'TOKEN = "{TOKEN}"\n'})
    before = failed_criticals()
    first = await scanner.scan_artifact(request("a-1-0-0", spec))
    assert (first.cached, first.score, first.counts["critical"]) == (False, 0, 1)
    assert first.digest == reference.partition("@")[2]
    assert failed_criticals() == before + 1  # the metric counts the fresh scan
    # a second Module on the same artifact: no scanner may run now
    monkeypatch.setattr(trivy, "executable", lambda name: None)
    second = await scanner.scan_artifact(request("b-1-0-0", spec))
    assert second.cached
    assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert failed_criticals() == before + 1  # and not the cache hit


async def test_a_clean_package_and_a_missing_one(
    scanner: Scanner, stack: StackInfo, tmp_path: Path
) -> None:
    reference, spec = published(stack, tmp_path)
    verdict = await scanner.scan_artifact(request("c-1-0-0", spec))
    assert (verdict.score, verdict.findings) == (100, 0)
    missing = reference[:-8] + "00000000"
    with pytest.raises(StepError) as failed:
        await scanner.scan_artifact(request("c-1-0-0", spec, missing))
    assert failed.value.reason.name == r.ARTIFACT_NOT_FOUND
    assert not failed.value.reason.retryable
    # by tag: resolved to the digest it names now, and that digest's verdict answers
    tagged = await scanner.scan_artifact(
        request("c-1-0-0", spec, reference.split("@")[0] + ":0.1.0")
    )
    assert (tagged.reference, tagged.cached) == (reference, True)
    with pytest.raises(StepError) as untagged:
        await scanner.scan_artifact(request("c-1-0-0", spec, reference.split("@")[0] + ":9.9.9"))
    assert untagged.value.reason.name == r.ARTIFACT_NOT_FOUND
    assert "no such tag" in untagged.value.message


async def test_plain_http_only_to_a_loopback_registry(scanner: Scanner, tmp_path: Path) -> None:
    assert all(map(loopback, ("127.0.0.1:5000", "localhost:5000", "[::1]:5000")))
    assert not any(map(loopback, ("registry.example.com:5000", "10.0.0.1")))
    with pytest.raises(StepError, match="loopback registry only") as refused:
        await scanner.scan_artifact(
            request(
                "d-1-0-0",
                {
                    "moduleId": "d",
                    "version": "1.0.0",
                    "displayName": "d",
                    "author": "tests",
                    "runtime": "python",
                },
                f"registry.example.com/x@sha256:{'a' * 64}",
            )
        )
    assert refused.value.reason.name == r.ARTIFACT_INVALID
