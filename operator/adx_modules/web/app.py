"""The HTTP API's application: routes over the marketplace, health, RFC 9457 errors.

Why it exists: payment providers confirm payments by calling the service (webhooks), and web
front ends and scripts use the service's REST surface. This grows route by route (the HTTP API
issue); every route answers errors as ``application/problem+json`` naming what is wrong, never
a bare 500 for bad input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adx_modules.marketplace.purchases import PurchaseError, Purchases

LOG = logging.getLogger("adx_modules.api")
MAX_WEBHOOK_BYTES = 256 * 1024
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


@dataclass(frozen=True)
class Services:
    """What the routes use, built once by the process (service/api.py) or a test."""

    purchases: Purchases


def create_app(services: Services) -> FastAPI:
    """The API application over ``services``."""
    app = FastAPI(title="ADX Module Service", version=_version())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        """A fault of the service (never of the request): logged, answered as a problem."""
        LOG.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "Internal Server Error", f"the service failed: {type(error).__name__}")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {
            "status": "healthy",
            "timestamp": datetime.now(UTC).isoformat(),
            "version": _version(),
        }

    @app.post("/api/v1/marketplace/webhooks/{provider}")
    async def webhook(provider: str, request: Request) -> JSONResponse:
        """A payment provider's event; believed only if its signature verifies."""
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return problem(
                413, "Payload Too Large", f"a webhook is at most {MAX_WEBHOOK_BYTES} bytes"
            )
        try:
            result = await services.purchases.webhook(
                provider, body, {k.lower(): v for k, v in request.headers.items()}
            )
        except PurchaseError as error:
            return problem(error.code, "Webhook refused", error.message)
        return JSONResponse({"result": result})

    return app


def _version() -> str:
    try:
        return metadata.version("adx-modules")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
