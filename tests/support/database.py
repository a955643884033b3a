"""Reading the service's tables in a test, as the service's own user sees them."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def query(env: dict[str, str], sql: str, *args: Any) -> list[dict[str, Any]]:
    """``sql``'s rows (JSON columns decoded) in the service's schema."""
    connection = await asyncpg.connect(
        env["ADX_DATABASE_URL"], server_settings={"search_path": env["ADX_DATABASE_SCHEMA_NAME"]}
    )
    try:
        await connection.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        return [dict(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()
