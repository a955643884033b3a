"""What the hosts' HTTP ports share: JSON answers, and the admin port's bearer token.

Why it exists: the WASM host and the module runner both answer the worker on an admin port that
only a holder of the shared token may use (probes excepted), and both answer errors as JSON
``{"reason", "message"}`` with the status their own error carries. One copy of each rule.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
from aiohttp import web

from adx_modules.api import reasons as r
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBES = ("/healthz", "/readyz")
ADMIN = "/admin/v1/installations"
ONE = ADMIN + "/{namespace}/{name}"


def json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def refusal(status: int, reason: str, message: str) -> web.Response:
    return json_response(status, {"reason": reason, "message": message})


class AdminHost(Protocol):
    """What every host's admin port reaches: its installations, loaded from their rows."""

    @property
    def synced(self) -> bool: ...

    def describe(self, namespace: str | None = None, name: str | None = None) -> Any: ...

    async def load(self, namespace: str, name: str) -> Any: ...


def installation_of(request: web.Request) -> tuple[str, str]:
    """The (namespace, name) an admin route names."""
    return request.match_info["namespace"], request.match_info["name"]


def admin_app(
    host: AdminHost, token: str, refusals: tuple[type[Exception], ...]
) -> web.Application:
    """The admin routes every host has: the probes, list, describe one, load one (``ONE``);
    each host adds its own."""

    async def healthz(_: web.Request) -> web.Response:
        return json_response(200, {"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        return json_response(200 if host.synced else 503, {"synced": host.synced})

    async def listing(_: web.Request) -> web.Response:
        return json_response(200, host.describe())

    async def describe(request: web.Request) -> web.Response:
        return json_response(200, host.describe(*installation_of(request)))

    async def load(request: web.Request) -> web.Response:
        return json_response(200, await host.load(*installation_of(request)))

    app = web.Application(middlewares=[admin_middleware(token, refusals)])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get(ADMIN, listing)
    app.router.add_get(ONE, describe)
    app.router.add_put(ONE, load)
    return app


def admin_middleware(token: str, refusals: tuple[type[Exception], ...]) -> Any:
    """Probes pass; anything else needs ``Authorization: Bearer <token>``; an exception of
    ``refusals`` (with ``status``, ``reason``, ``message``) is answered as JSON."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PROBES:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return refusal(401, "Unauthorized", "a valid bearer token is needed")
        try:
            return await handler(request)
        except refusals as error:
            return refusal(error.status, error.reason, error.message)  # type: ignore[attr-defined]

    return authenticated


class HostAdmin:
    """The worker's side of a host's admin API; unreachable means retry later."""

    def __init__(self, what: str, url: str, token: str) -> None:
        self._what = what
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, ref: InstallationRef, suffix: str = "", **params: Any
    ) -> tuple[int, dict[str, Any]]:
        return await self.request(method, f"{ref.namespace}/{ref.name}{suffix}", params=params)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        seconds: float = 60,
    ) -> tuple[int, dict[str, Any]]:
        """``method`` on ``{ADMIN}/{path}``: the status and the JSON answer."""
        url = f"{self._url}{ADMIN}/{path}"
        try:
            async with httpx.AsyncClient(timeout=seconds) as client:
                response = await client.request(
                    method, url, headers=self._headers, params=params, json=body
                )
        except httpx.HTTPError as error:
            raise StepError(
                r.SERVICE_UNAVAILABLE, f"{self._what} at {self._url} cannot be reached ({error})"
            ) from None
        if response.status_code == 401:
            raise StepError(
                r.SERVICE_UNAVAILABLE,
                f"{self._what} refused the worker's token: its admin_token setting must be the "
                "same for both",
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {"message": response.text[:200]}
        return response.status_code, answer if isinstance(answer, dict) else {"items": answer}
