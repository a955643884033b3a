"""``adx-module-service api``: the HTTP API process.

Why it exists: the API's routes need the Kubernetes, PostgreSQL and Temporal clients built once;
this wires them into the application and serves it with uvicorn on ``server.host:server.port``
until SIGTERM (Kubernetes' stop), letting requests in flight finish.
"""

from __future__ import annotations

import asyncio

import uvicorn

from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.core.database import open_store
from adx_modules.core.settings import Settings
from adx_modules.marketplace.purchases import Purchases
from adx_modules.marketplace.recommendations import Recommendations
from adx_modules.marketplace.reviews import Reviews
from adx_modules.marketplace.search import MarketplaceSearch
from adx_modules.web.app import create_app
from adx_modules.web.auth import Authority
from adx_modules.web.limits import TokenBuckets
from adx_modules.web.services import Services


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Serve the API until ``stop`` is set."""
    client = await temporal.connect(settings.temporal.address, settings.temporal.namespace)
    # the tables this version reads exist before the first request (whichever role starts
    # first migrates; the rest wait on the lock), with no per-query timeout for the DDL
    async with await open_store(settings.database) as migrating:
        await migrating.migrate()
    async with (
        await KubeClient.connect() as kube,
        await open_store(settings.database, settings.server.database_timeout_seconds) as store,
    ):
        services = Services(
            kube=kube,
            authority=Authority(kube),
            purchases=Purchases.from_settings(client, store, kube, settings),
            search=MarketplaceSearch(store),
            reviews=Reviews(store, kube),
            recommendations=Recommendations(store),
            store=store,
            rates=TokenBuckets(
                rate=settings.server.requests_per_second,
                burst=2 * settings.server.requests_per_second,
            ),
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services, max_body_bytes=settings.server.max_body_bytes),
                host=settings.server.host,
                port=settings.server.port,
                log_level="info",
                lifespan="off",
                limit_concurrency=settings.server.max_connections,
            )
        )
        serving = asyncio.create_task(server.serve())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await serving
        stopping.cancel()
