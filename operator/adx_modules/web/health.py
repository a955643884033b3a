"""``GET /health`` and ``GET /health/ready``: is the API up, and can it answer.

Why it exists: ``/health`` is the service's (``{"status", "timestamp", "version"}``) and says
how each dependency is — the apiserver (every request's authentication) and PostgreSQL (every
read model) — but answers 200 while the process runs, so a liveness probe never restarts the
API for a database's outage. ``/health/ready`` answers 503 while a dependency is not reachable,
so a readiness probe takes the pod out of its Service until it is. Unauthenticated, so the
answers are remembered for a second: probing cannot load the dependencies.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from adx_modules.clients.errors import ClientError
from adx_modules.web.services import Services, Using

router = APIRouter()
REMEMBERED_SECONDS = 1.0
CHECK_SECONDS = 3.0
_last: tuple[float, dict[str, str]] = (0.0, {})


def version() -> str:
    try:
        return metadata.version("adx-modules")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


async def _kubernetes(using: Services) -> str:
    try:
        await asyncio.wait_for(using.kube.server_version(), CHECK_SECONDS)
    except (ClientError, TimeoutError) as error:
        return f"unreachable: {error or 'no answer in time'}"
    return "ok"


async def _database(using: Services) -> str:
    try:
        await asyncio.wait_for(using.store.pool.fetchval("SELECT 1"), CHECK_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return f"unreachable: {error or 'no answer in time'}"
    return "ok"


async def dependencies(using: Services) -> dict[str, str]:
    """Each dependency: "ok", or why not (remembered for a second)."""
    global _last  # noqa: PLW0603 - one process-wide memo
    at, found = _last
    if time.monotonic() - at < REMEMBERED_SECONDS:
        return found
    kubernetes, database = await asyncio.gather(_kubernetes(using), _database(using))
    found = {"kubernetes": kubernetes, "database": database}
    _last = (time.monotonic(), found)
    return found


async def _report(using: Services) -> dict[str, Any]:
    found = await dependencies(using)
    return {
        "status": "healthy" if all(v == "ok" for v in found.values()) else "degraded",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": version(),
        "dependencies": found,
    }


@router.get("/health")
async def health(using: Using) -> dict[str, Any]:
    """200 while the process runs; ``status`` "degraded" when a dependency is unreachable."""
    return await _report(using)


@router.get("/health/ready", response_model=None)
async def ready(using: Using) -> dict[str, Any] | JSONResponse:
    """503 while a dependency is unreachable."""
    report = await _report(using)
    if report["status"] != "healthy":
        return JSONResponse(report, status_code=503, headers={"Retry-After": "5"})
    return report
