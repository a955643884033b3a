"""The one way a process role opens the service's PostgreSQL store: from its settings, so the
DSN, the schema and the pool's size mean the same in the API, the worker, the hosts and the
command-line tools. Kept apart from the rest of ``core`` because it loads the driver, which the
operator process never does."""

from __future__ import annotations

from adx_modules.clients.postgres import Store
from adx_modules.core.settings import DatabaseSettings


async def open_store(database: DatabaseSettings, command_timeout: float | None = None) -> Store:
    """A pool on ``database.url`` in ``database.schema_name``, ``database.pool_size`` wide
    (queries bounded by ``command_timeout`` seconds, if given). Use it as ``async with await
    open_store(settings.database) as store``."""
    return await Store.connect(
        database.url,
        schema=database.schema_name,
        pool_size=database.pool_size,
        command_timeout=command_timeout,
    )
