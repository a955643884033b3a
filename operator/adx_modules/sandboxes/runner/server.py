"""The runner's two HTTP ports: *invoke* serves the modules' API routes, *admin* the worker.

Why it exists: the runner's work (:mod:`host`) is reached over HTTP. The invoke port routes
``/v1/tenants/{namespace}/installations/{name}/api/<route>`` (any method) to the handler the
module registered for that path and method, and answers what it returns; errors are JSON
``{"reason", "message"}``: 404 no such installation or route, 405 the method, 413 too large,
502 the module failed or its process ended, 503 not active, 504 past the deadline (the process
is restarted). Headers that carry the caller's credentials (Authorization, Cookie) never reach
a module. The admin port (a bearer token) loads a registration, describes and drains; its probes
need no token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from adx_modules.clients import temporal
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
from adx_modules.sandboxes.runner.databases import ModuleDatabases
from adx_modules.sandboxes.runner.flows import WorkflowStarter
from adx_modules.sandboxes.runner.host import RunnerHost
from adx_modules.sandboxes.runner.records import RunnerRecords
from adx_modules.sandboxes.runner.state import RunnerError
from adx_modules.sandboxes.wasm.records import WasmRecords

LOG = logging.getLogger("adx_modules.runner")
INVOKE = "/v1/tenants/{namespace}/installations/{name}/api/{route:.*}"
MAX_BODY = 2 * 2**20
WITHHELD = {"authorization", "cookie", "proxy-authorization", "host", "content-length"}


def invoke_app(host: RunnerHost) -> web.Application:
    async def invoke(request: web.Request) -> web.Response:
        info = request.match_info
        if request.content_length is not None and request.content_length > MAX_BODY:
            return refusal(413, "RequestTooLarge", f"over {MAX_BODY} bytes")
        body = await request.read()
        forwarded = {
            "query": dict(request.query),
            "headers": {
                k.lower(): v for k, v in request.headers.items() if k.lower() not in WITHHELD
            },
            "body": body.decode("utf-8", errors="replace"),
        }
        try:
            answer = await host.invoke(
                info["namespace"], info["name"], request.method, "/" + info["route"], forwarded
            )
        except RunnerError as error:
            return refusal(error.status, error.reason, error.message)
        headers = {k: str(v) for k, v in answer.headers.items()}
        if isinstance(answer.body, str) and "content-type" in {k.lower() for k in headers}:
            return web.Response(status=answer.status, text=answer.body, headers=headers)
        return web.Response(
            status=answer.status,
            text=json.dumps(answer.body),
            headers=headers,
            content_type="application/json",
        )

    app = web.Application(client_max_size=MAX_BODY + 1)
    app.router.add_route("*", INVOKE, invoke)
    return app


def runner_admin_app(host: RunnerHost, token: str) -> web.Application:
    app = admin_app(host, token, (RunnerError,))

    def _workflow(request: web.Request) -> tuple[str, str, str]:
        return (*installation_of(request), request.match_info["workflow"])

    async def workflow_policy(request: web.Request) -> web.Response:
        return json_response(200, host.workflow_policy(*_workflow(request)))

    async def run_workflow(request: web.Request) -> web.Response:
        try:
            given = (await request.json()).get("input")
        except ValueError:
            return refusal(400, "BadRequest", 'the body must be JSON {"input": ...}')
        return json_response(200, {"output": await host.run_workflow(*_workflow(request), given)})

    app.router.add_get(ONE + "/workflows/{workflow}", workflow_policy)
    app.router.add_post(ONE + "/workflows/{workflow}", run_workflow)
    return app


async def _keep_converged(host: RunnerHost, seconds: float) -> None:
    """Re-read the rows now and then, and start again what ended on its own."""
    elapsed = 0.0
    while True:
        await asyncio.sleep(1.0)
        elapsed += 1.0
        try:
            await host.revive()
            if elapsed >= seconds:
                elapsed = 0.0
                await host.sync()
        except Exception:
            LOG.exception("converging with the database failed")


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the runner until ``stop`` is set."""
    runner = settings.runner
    if not runner.admin_token:
        raise SettingsError(
            "runner.admin_token (ADX_RUNNER_ADMIN_TOKEN) is empty: the admin API needs a token"
        )
    async with (
        await KubeClient.connect() as kube,
        await open_store(settings.database) as store,
    ):
        await store.migrate()
        host = RunnerHost(
            RunnerRecords(store),
            WasmRecords(store),
            runner,
            work_dir=Path(runner.work_dir) if runner.work_dir else None,
            trusted=settings.sandbox.trusted,
            workflows=WorkflowStarter(
                await temporal.connect(
                    settings.temporal.address, settings.temporal.namespace, lazy=True
                ),
                settings.temporal.task_queue,
            ),
            databases=ModuleDatabases(store, settings.database.url),
        )
        apps: list[Any] = [
            web.AppRunner(invoke_app(host), access_log=None),
            web.AppRunner(runner_admin_app(host, runner.admin_token), access_log=None),
        ]
        try:
            await host.sync()
            for app, port in zip(apps, (runner.invoke_port, runner.admin_port), strict=True):
                await app.setup()
                await web.TCPSite(app, runner.listen_host, port).start()
            converging = asyncio.create_task(_keep_converged(host, runner.sync_seconds))
            reporting = asyncio.create_task(
                HealthReporter(host.reported, kube, store).run(runner.health_report_seconds)
            )
            dispatcher = EventDispatcher(host.subscribers, WasmRecords(store))
            listener = await store.pool.acquire()  # LISTEN needs a connection of its own
            await listener.add_listener(EVENTS_CHANNEL, dispatcher.wake)
            delivering = asyncio.create_task(dispatcher.run())
            LOG.info(
                "runner serving: routes on %s:%d, admin on %s:%d, %d installations",
                runner.listen_host,
                runner.invoke_port,
                runner.listen_host,
                runner.admin_port,
                len(host.describe()),
            )
            await stop.wait()
            for task in (converging, delivering, reporting):
                task.cancel()
            await listener.remove_listener(EVENTS_CHANNEL, dispatcher.wake)
            await store.pool.release(listener)
        finally:
            for app in apps:
                await app.cleanup()
            await host.close()
