"""The WASM host's two HTTP ports: *invoke* for the platform, *admin* for the worker.

Why it exists: the host's work (:mod:`host`) is reached over HTTP. The invoke port answers
``POST /v1/tenants/{namespace}/installations/{name}/invoke/{function}`` with the module's JSON,
or a JSON error ``{"reason", "message"}``: 400 not JSON, 404 no such installation or function,
413 too large, 429 the installation's cap, 503 not active, 502/504 the call failed (a trap, or
out of fuel or time). The admin port is for the worker's sandbox activities alone (a bearer
token, and in a cluster a NetworkPolicy): load a registration, make a revision serve, drain;
it also serves the probes, ``/healthz`` and ``/readyz``, without a token.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from adx_modules.clients.kube import KubeClient
from adx_modules.core.database import open_store
from adx_modules.core.errors import SettingsError
from adx_modules.core.settings import Settings
from adx_modules.sandboxes.admin_http import (
    ONE,
    admin_app,
    installation_of,
    json_response,
    refusal,
)
from adx_modules.sandboxes.events import EVENTS_CHANNEL, EventDispatcher
from adx_modules.sandboxes.reporting import HealthReporter
from adx_modules.sandboxes.wasm.engine import WasmEngine
from adx_modules.sandboxes.wasm.host import HostError, WasmHost
from adx_modules.sandboxes.wasm.records import WasmRecords

log = logging.getLogger("adx_modules.wasm")

INVOKE = "/v1/tenants/{namespace}/installations/{name}/invoke/{function}"


def invoke_app(host: WasmHost, max_body: int) -> web.Application:
    async def invoke(request: web.Request) -> web.Response:
        info = request.match_info
        if request.content_length is not None and request.content_length > max_body:
            return refusal(413, "RequestTooLarge", f"over {max_body} bytes")
        body = await request.read()
        answer = await host.invoke(info["namespace"], info["name"], info["function"], body)
        return web.Response(status=answer.status, body=answer.body, content_type="application/json")

    app = web.Application(client_max_size=max_body + 1)
    app.router.add_post(INVOKE, invoke)
    return app


def wasm_admin_app(host: WasmHost, token: str) -> web.Application:
    app = admin_app(host, token, (HostError,))

    async def ready(request: web.Request) -> web.Response:
        try:
            revision = int(request.query["revision"])
        except (KeyError, ValueError):
            return refusal(400, "BadRequest", "?revision=<n> is needed")
        return json_response(200, await host.ready(*installation_of(request), revision))

    async def drain(request: web.Request) -> web.Response:
        return json_response(200, await host.drain(*installation_of(request)))

    app.router.add_post(ONE + "/ready", ready)
    app.router.add_delete(ONE, drain)
    return app


async def _keep_synced(host: WasmHost, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await host.sync()
        except Exception:
            log.exception("sync with the database failed")


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the host until ``stop`` is set."""
    wasm = settings.wasm
    if not wasm.admin_token:
        raise SettingsError(
            "wasm.admin_token (ADX_WASM_ADMIN_TOKEN) is empty: the admin API needs a token"
        )
    async with (
        await KubeClient.connect() as kube,
        await open_store(settings.database) as store,
    ):
        await store.migrate()
        engine = WasmEngine(Path(wasm.cache_dir) if wasm.cache_dir else None)
        records = WasmRecords(store)
        host = WasmHost(engine, records, wasm, asyncio.get_running_loop())
        dispatcher = EventDispatcher(host.subscribers, records)
        runners = [
            web.AppRunner(invoke_app(host, 2 * 2**20), access_log=None),
            web.AppRunner(wasm_admin_app(host, wasm.admin_token), access_log=None),
        ]
        try:
            await host.sync()
            for runner, port in zip(runners, (wasm.invoke_port, wasm.admin_port), strict=True):
                await runner.setup()
                await web.TCPSite(runner, wasm.listen_host, port).start()
            syncing = asyncio.create_task(_keep_synced(host, wasm.sync_seconds))
            reporting = asyncio.create_task(
                HealthReporter(host.reported, kube, store).run(wasm.health_report_seconds)
            )
            listener = await store.pool.acquire()  # LISTEN needs a connection of its own
            await listener.add_listener(EVENTS_CHANNEL, dispatcher.wake)
            delivering = asyncio.create_task(dispatcher.run())
            log.info(
                "wasm host serving: invoke on %s:%d, admin on %s:%d, %d installations",
                wasm.listen_host,
                wasm.invoke_port,
                wasm.listen_host,
                wasm.admin_port,
                len(host.describe()),
            )
            await stop.wait()
            for task in (syncing, reporting, delivering):
                task.cancel()
            await listener.remove_listener(EVENTS_CHANNEL, dispatcher.wake)
            await store.pool.release(listener)
        finally:
            for runner in runners:
                await runner.cleanup()
            host.close()
            engine.close()
