"""A module's artifact as bytes, fetched by digest for a host of modules (WASM host, runner).

Why it exists: both hosts keep what they run in PostgreSQL, fetched once by the worker (which
holds the registry's credentials and mirrors), and both must answer a missing, mismatched or
unreachable artifact with the same step reasons. The container backend needs no bytes: the
kubelet pulls its image.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from pathlib import Path

from adx_modules.api import reasons as r
from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.artifacts import ArtifactFetcher
from adx_modules.catalog.scanning.sources import source_of
from adx_modules.clients.errors import InvalidError, NotFoundError, UnavailableError
from adx_modules.core.errors import StepError


async def artifact_bytes(
    artifacts: ArtifactFetcher, module: ModuleSpec, kind: str, isolation: str
) -> tuple[bytes, str]:
    """The module's artifact of ``kind`` (wasm, package) and its sha256 digest."""
    where = f"{module.module_id} {module.version}"
    workdir = Path(tempfile.mkdtemp(prefix="adx-artifact-"))
    try:
        source = source_of(module)
        if source.kind != kind:
            raise StepError(
                r.INVALID_MODULE, f"{where}: isolation {isolation} runs a {kind} artifact only"
            )
        located = await artifacts.locate(source, workdir)
        path, _ = await asyncio.to_thread(artifacts.content, source, located, workdir)
        content = path.read_bytes()
    except NotFoundError as error:
        raise StepError(r.ARTIFACT_NOT_FOUND, f"{where}: {error}") from None
    except InvalidError as error:
        raise StepError(r.ARTIFACT_INVALID, f"{where}: {error}") from None
    except UnavailableError as error:
        raise StepError(r.SERVICE_UNAVAILABLE, f"{where}: {error}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return content, f"sha256:{hashlib.sha256(content).hexdigest()}"
