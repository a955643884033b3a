"""What a host releases when an installation goes: its data removed, or kept past the
uninstall and taken over by the next installation of its name.

Why it exists: ``spec.uninstall.cleanupData: false`` (the API's ``cleanup_data: false``) asks to
remove a module but keep what it stored — its storage and settings rows and its own database
(schema and role) — so that a reinstall finds them. All of that is keyed by the installation's
uid, which dies with the object; here the kept data is recorded under the tenant's (namespace,
name) and moved to the next installation of that name running the same module. One set is kept
per name: keeping a newer one removes the older. Event cursors are delivery state, not data: a
reinstall receives the events from its own install on.
"""

from __future__ import annotations

from typing import Any

import asyncpg

ROWS = ("module_settings", "module_storage")


async def release(
    connection: Any, uid: str, namespace: str, name: str, keep_data_of: str | None = None
) -> None:
    """What a host held for an installation it no longer runs, gone (in the caller's
    transaction): its recorded resource use, and its data — or, with ``keep_data_of`` (the
    module's id), that data recorded as kept for the next installation of the name, replacing
    an older set kept there (whose rows go here; its database goes with the runner's sweep)."""
    await connection.execute("DELETE FROM module_usage WHERE installation_uid = $1::uuid", uid)
    if keep_data_of is None:
        await _forget(connection, uid)
        return
    older: str | None = await connection.fetchval(
        "SELECT uid::text FROM kept_module_data WHERE namespace = $1 AND name = $2",
        namespace,
        name,
    )
    if older is not None and older != uid:
        await _forget(connection, older)
    await connection.execute(
        """INSERT INTO kept_module_data (namespace, name, uid, module_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (namespace, name) DO UPDATE SET uid = EXCLUDED.uid,
               module_id = EXCLUDED.module_id, kept_at = now()""",
        namespace,
        name,
        uid,
        keep_data_of,
    )


async def _forget(connection: Any, uid: str) -> None:
    for table in ROWS:
        await connection.execute(
            f"DELETE FROM {table} WHERE installation_uid = $1::uuid",  # noqa: S608 - fixed names
            uid,
        )


async def take_over(
    pool: asyncpg.Pool, uid: str, namespace: str, name: str, module_id: str
) -> None:
    """Move the data kept under (namespace, name) to installation ``uid`` if it was kept from
    the same module. Idempotent: once taken, the record is gone."""
    async with pool.acquire() as connection, connection.transaction():
        older: str | None = await connection.fetchval(
            "DELETE FROM kept_module_data WHERE namespace = $1 AND name = $2 AND module_id = $3 "
            "AND uid <> $4::uuid RETURNING uid::text",
            namespace,
            name,
            module_id,
            uid,
        )
        if older is None:
            return
        for table in (*ROWS, "module_databases"):
            await connection.execute(
                f"UPDATE {table} SET installation_uid = $1::uuid "  # noqa: S608 - fixed names
                "WHERE installation_uid = $2::uuid",
                uid,
                older,
            )
