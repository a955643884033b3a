"""Benchmark: scanning a module artifact, cold and from the cache.

On a fresh local stack (its registry, PostgreSQL and Trivy's database built from the repository's
advisories), artifacts of each kind (package, WASM, container image) and a few sizes are
published and scanned by the worker's ``scan_artifact`` activity, as the scan workflow runs it:

- *cold*: a digest never seen (each run publishes a variant of the artifact, one byte apart, so
  nothing is cached): resolve to a digest, fetch by digest, unpack, YARA-X, Trivy (fs, and sbom
  for dependencies; ``image --image-src remote`` for images), manifest analysis, record;
- *cache hit*: the same digest again (another Module on the same artifact): the verdict from
  PostgreSQL, no scanner runs. Target: at most 1 s.

Three runs each, min/median/max. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

import wasmtime  # noqa: E402
from report import machine, write_section  # noqa: E402

from adx_modules.authoring.manifest import read_manifest  # noqa: E402
from adx_modules.authoring.package import build  # noqa: E402
from adx_modules.authoring.publish import publish  # noqa: E402
from adx_modules.authoring.scaffold import scaffold  # noqa: E402
from adx_modules.catalog.scanning.activities import Scanner  # noqa: E402
from adx_modules.catalog.scanning.contract import ScanRequest  # noqa: E402
from adx_modules.clients.postgres import Store  # noqa: E402
from adx_modules.core.settings import load_settings  # noqa: E402
from adx_modules.devstack.images import layer as image_layer  # noqa: E402
from adx_modules.devstack.images import push_image  # noqa: E402
from adx_modules.devstack.images import python_package as dist_info  # noqa: E402
from adx_modules.devstack.stack import DevStack  # noqa: E402

RUNS = 3


def python_package(work: Path, files: int, file_kib: int, variant: int, lockfile: str) -> Path:
    """A python module with ``files`` source files of ``file_kib`` KiB each."""
    directory = work / f"py-{files}-{file_kib}-{variant}-{len(lockfile)}"
    scaffold(directory, "bench-scan", "python")
    (directory / "requirements.lock").write_text(lockfile)
    line = "def f{i}(x):\n    return x * {i} + {variant}\n"
    for n in range(files):
        text = "".join(line.format(i=i, variant=variant) for i in range(file_kib * 1024 // 40))
        (directory / "src" / f"part_{n:03d}.py").write_text(text)
    (directory / "src" / "variant.py").write_text(f"VARIANT = {variant}\n")
    return build(directory / "manifest.json", work / f"{directory.name}.adx").path


def wasm_binary(work: Path, functions: int, variant: int) -> Path:
    body = "".join(
        f'(func (export "f{i}") (param i32) (result i32) local.get 0 i32.const {i + variant} '
        "i32.add)"
        for i in range(functions)
    )
    guest = (
        '(memory (export "memory") 1)'
        '(func (export "alloc") (param i32) (result i32) i32.const 0)'
        '(func (export "handle") (param i32 i32) (result i64) i64.const 0)'
    )
    path = work / f"m-{functions}-{variant}.wasm"
    path.write_bytes(bytes(wasmtime.wat2wasm(f"(module {guest} {body})")))
    return path


def spread(durations: list[float]) -> str:
    """min / median / max, in milliseconds."""
    low, middle, high = min(durations), statistics.median(durations), max(durations)
    return f"{low * 1000:,.1f} / {middle * 1000:,.1f} / {high * 1000:,.1f} ms"


def size_of(size: int) -> str:
    return f"{size:,} B" if size < 10 * 1024 else f"{size / 1024:,.0f} KiB"


def image_spec(reference: str) -> dict[str, Any]:
    return {
        "moduleId": "bench-image",
        "version": "1.0.0",
        "displayName": "bench",
        "author": "bench",
        "runtime": "container",
        "artifact": {"image": {"reference": reference}},
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
    }


def image_files(megabytes: int, variant: int, vulnerable: bool) -> dict[str, bytes]:
    """An image's files: incompressible data, and an installed PyYAML 5.3 when ``vulnerable``."""
    files = {"module": f"variant {variant}\n".encode()}
    if megabytes:
        files["data.bin"] = random.Random(variant).randbytes(megabytes * 2**20)  # noqa: S311
    if vulnerable:
        files.update(dist_info("PyYAML", "5.3"))
    return files


async def measure(
    scanner: Scanner,
    registry: str,
    kind: str,
    make: Callable[[int], Path | dict[str, bytes]],
    manifest: Path | None,
) -> tuple[int, list[float], list[float], int]:
    """(artifact bytes, cold durations, cache-hit durations, score of the last run)."""
    cold: list[float] = []
    size, score, last = 0, 0, None
    for variant in range(RUNS):
        artifact = make(variant)
        if isinstance(artifact, Path):
            size = artifact.stat().st_size
            published = publish(artifact, registry, insecure=True, manifest=manifest)
            spec: dict[str, Any] = published.module["spec"]
            name = str(published.module["metadata"]["name"])
        else:  # an image's files
            compressed, _ = image_layer(artifact)
            size = len(compressed)
            name = f"bench-image-{variant}"
            reference = push_image(registry, "bench/image", name, artifact, insecure=True)
            spec = image_spec(reference.split("@")[0] + f":{name}")  # by tag: resolved first
        request = ScanRequest(module=name, uid=f"bench-{name}-{kind}", spec=spec)
        started = time.monotonic()
        verdict = await scanner.scan_artifact(request)
        cold.append(time.monotonic() - started)
        assert not verdict.cached
        score, last = verdict.score, request
    hits: list[float] = []
    assert last is not None
    for _ in range(RUNS):
        started = time.monotonic()
        verdict = await scanner.scan_artifact(last)
        hits.append(time.monotonic() - started)
        assert verdict.cached
    return size, cold, hits, score


async def run(stack: DevStack, work: Path) -> list[str]:
    env = stack.environment()
    settings = load_settings(
        environ={
            "ADX_REGISTRY_INSECURE": "true",
            "ADX_SECURITY_SCAN_CACHE_DIR": str(work / "trivy"),
            "ADX_SECURITY_VULNERABILITY_DB": env["ADX_SECURITY_VULNERABILITY_DB"],
        }
    )
    registry = env["ADX_REGISTRY_ADDRESS"]
    wasm_manifest = work / "wasm-manifest.json"
    scaffold(work / "wasm-module", "bench-wasm", "python")
    document = read_manifest(work / "wasm-module" / "manifest.json")
    wasm_manifest.write_text(json.dumps({**document, "runtime": "wasm"}))
    vulnerable = "requests==2.31.0\nPyYAML==5.3\n"
    cases: list[tuple[str, str, Callable[[int], Path | dict[str, bytes]], Path | None]] = [
        (
            "package, the scaffold (4 files)",
            "package",
            lambda v: python_package(work, 0, 1, v, ""),
            None,
        ),
        (
            "package, 2 vulnerable dependencies",
            "package",
            lambda v: python_package(work, 0, 1, v, vulnerable),
            None,
        ),
        (
            "package, 100 files of 100 KiB",
            "package",
            lambda v: python_package(work, 100, 100, v, ""),
            None,
        ),
        ("WASM, 10 functions", "wasm", lambda v: wasm_binary(work, 10, v), wasm_manifest),
        ("WASM, 20,000 functions", "wasm", lambda v: wasm_binary(work, 20_000, v), wasm_manifest),
        ("image, one file", "image", lambda v: image_files(0, v, vulnerable=False), None),
        (
            "image, PyYAML 5.3 installed (a critical CVE)",
            "image",
            lambda v: image_files(0, v, vulnerable=True),
            None,
        ),
        ("image, 20 MiB of data", "image", lambda v: image_files(20, v, vulnerable=False), None),
    ]
    rows = []
    async with await Store.connect(env["ADX_DATABASE_URL"]) as store:
        await store.migrate()
        scanner = Scanner(store, settings)
        for name, kind, make, manifest in cases:
            size, cold, hits, score = await measure(scanner, registry, kind, make, manifest)
            print(name, size, spread(cold), spread(hits), score, flush=True)
            rows.append(f"| {name} | {size_of(size)} | {spread(cold)} | {spread(hits)} | {score} |")
    return rows


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adx-bench-scan-"))
    with DevStack(work / "stack") as stack:
        rows = asyncio.run(run(stack, work))
    body = "\n".join(
        [
            "## Scanning an artifact: cold, and from the cache",
            "",
            f"{machine()}; one fresh local stack; the worker's `scan_artifact` activity called "
            "directly (resolve to a digest, fetch by digest from the local registry, unpack, "
            "YARA-X, Trivy `fs` and `sbom` with the stack's database, manifest analysis, "
            "verdict stored in PostgreSQL; images: `trivy image --image-src remote` by digest, "
            "each pushed by tag and resolved first). Cold: a digest never scanned (each run "
            "publishes a variant one byte apart). Cache hit: the same digest again, as for a "
            "second Module on the same artifact: no scanner runs (target at most 1 s). "
            f"{RUNS} runs each, min / median / max.",
            "",
            "| artifact | compressed size | cold scan | cache hit | score |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            "Installs per minute with the scan gate in the path, beside the same run without "
            "it: the lifecycle section.",
        ]
    )
    write_section("scanning", body)
    print(body)


if __name__ == "__main__":
    main()
