"""The HTTP API's application: its routes, health, and one way of answering errors.

Why it exists: payment providers confirm payments by calling the service (webhooks), and web
front ends and scripts use the service's REST surface. Every error is answered as
``application/problem+json`` naming what is wrong: bad input is a 4xx, never a 500; the
refusals of each layer (authentication, RBAC, purchases, reviews) keep their own status.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from adx_modules.clients.errors import (
    ClientError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from adx_modules.marketplace.purchases import PurchaseError
from adx_modules.marketplace.reviews import ReviewError
from adx_modules.marketplace.search import InvalidCursorError
from adx_modules.web import health, marketplace, modules, resources
from adx_modules.web.auth import AuthError
from adx_modules.web.limits import BodyLimit, RateLimitedError
from adx_modules.web.problems import BadRequestError, ConflictingError, problem, with_problems
from adx_modules.web.services import Services, Using

LOG = logging.getLogger("adx_modules.api")
MAX_WEBHOOK_BYTES = 256 * 1024


def _field_errors(error: RequestValidationError) -> str:
    """``body.tenant_id: Field required; query.limit: ...``: every field at fault."""
    found = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        found.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(found) or "the request is not valid"


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return problem(400, _field_errors(error))

    @app.exception_handler(HTTPException)
    async def http(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail))

    @app.exception_handler(BadRequestError)
    @app.exception_handler(InvalidCursorError)
    async def bad(_: Request, error: Exception) -> JSONResponse:
        return problem(400, str(error))

    @app.exception_handler(ConflictingError)
    async def conflicting(_: Request, error: Exception) -> JSONResponse:
        return problem(409, str(error))

    @app.exception_handler(AuthError)
    @app.exception_handler(PurchaseError)
    @app.exception_handler(ReviewError)
    async def refused(_: Request, error: Exception) -> JSONResponse:
        code: int = getattr(error, "code", 400)
        return problem(code, str(getattr(error, "message", error)))

    @app.exception_handler(RateLimitedError)
    async def too_many(_: Request, error: RateLimitedError) -> JSONResponse:
        return problem(429, str(error), retry_after=error.retry_after)

    @app.exception_handler(ClientError)
    async def kubernetes(_: Request, error: Exception) -> JSONResponse:
        for kind, status in ((ForbiddenError, 403), (NotFoundError, 404), (ConflictError, 409)):
            if isinstance(error, kind):
                return problem(status, str(error))
        if isinstance(error, InvalidError):  # the apiserver's validation: names the field
            return problem(400, str(error))
        return problem(503, f"the cluster did not answer: {error}")

    @app.exception_handler(TimeoutError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.ConnectionDoesNotExistError)
    @app.exception_handler(asyncpg.TooManyConnectionsError)
    @app.exception_handler(asyncpg.CannotConnectNowError)
    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        """PostgreSQL did not answer in time (server.database_timeout_seconds) or at all:
        the client's request was fine; it may try again."""
        LOG.warning(
            "%s %s: the database is unavailable: %r", request.method, request.url.path, error
        )
        return problem(503, "the service's database did not answer in time; try again")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        """A fault of the service (never of the request): logged, answered as a problem."""
        LOG.exception("%s %s failed", request.method, request.url.path)
        return problem(500, f"the service failed: {type(error).__name__}")


def create_app(services: Services | None = None, *, max_body_bytes: int = 1024 * 1024) -> FastAPI:
    """The API application over ``services`` (None: for its OpenAPI document only)."""
    app = FastAPI(title="ADX Module Service", version=health.version())

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            app.openapi_schema = with_problems(document)
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]
    app.state.services = services
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    _handle_errors(app)
    app.include_router(marketplace.router)
    app.include_router(modules.router)
    app.include_router(resources.router)
    app.include_router(health.router)

    @app.post("/api/v1/marketplace/webhooks/{provider}")
    async def webhook(provider: str, request: Request, using: Using) -> JSONResponse:
        """A payment provider's event; believed only if its signature verifies."""
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return problem(413, f"a webhook is at most {MAX_WEBHOOK_BYTES} bytes")
        result = await using.purchases.webhook(
            provider, body, {k.lower(): v for k, v in request.headers.items()}
        )
        return JSONResponse({"result": result})

    return app


def openapi_document() -> str:
    """The API's OpenAPI document as committed in docs/openapi.json."""
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m adx_modules.web.app > docs/openapi.json
    print(openapi_document(), end="")
