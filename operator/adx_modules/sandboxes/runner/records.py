"""The runner's tables (db/migrations/005_runner.sql): packages, registrations, and what modules
set for themselves.

Why it exists: registrations are rows, not memory. The worker's sandbox activities write them
(idempotent upserts: an activity runs at least once) and the runner reads them at start, when
told, and on its own schedule, so a runner that dies starts the same modules again and a retried
provision changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from adx_modules.clients.postgres import Store
from adx_modules.sandboxes import kept


@dataclass(frozen=True)
class RunnerRegistration:
    """An installation the runner runs, at one revision."""

    namespace: str
    name: str
    uid: str
    isolation: str
    revision: int
    module_id: str
    version: str
    runtime: str
    digest: str
    permissions: tuple[str, ...]
    configuration: dict[str, Any]
    limits: dict[str, int]
    active: bool

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _registration(row: asyncpg.Record) -> RunnerRegistration:
    return RunnerRegistration(
        namespace=row["namespace"],
        name=row["name"],
        uid=row["uid"],
        isolation=row["isolation"],
        revision=row["revision"],
        module_id=row["module_id"],
        version=row["version"],
        runtime=row["runtime"],
        digest=row["digest"],
        permissions=tuple(row["permissions"]),
        configuration=dict(row["configuration"]),
        limits=dict(row["limits"]),
        active=row["active"],
    )


SELECT = """
SELECT namespace, name, uid::text AS uid, isolation, revision, module_id, version, runtime,
       digest, permissions, configuration, limits, active
FROM runner_installations
"""


class RunnerRecords:
    """Reads and writes of the runner's tables."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    async def store_package(self, digest: str, content: bytes) -> None:
        await self._pool.execute(
            "INSERT INTO runner_packages (digest, content) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            digest,
            content,
        )

    async def package(self, digest: str) -> bytes | None:
        found = await self._pool.fetchval(
            "SELECT content FROM runner_packages WHERE digest = $1", digest
        )
        return bytes(found) if found is not None else None

    async def register(self, registration: RunnerRegistration) -> None:
        """Upsert the installation's revision; a row left by an earlier installation of the
        same name (another uid) is replaced and its settings and storage dropped."""
        r = registration
        async with self._pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval(
                "SELECT uid::text FROM runner_installations WHERE namespace = $1 AND name = $2",
                r.namespace,
                r.name,
            )
            if previous is not None and previous != r.uid:
                await connection.execute(
                    "DELETE FROM event_cursors WHERE installation_uid = $1::uuid", previous
                )
                await kept.release(connection, previous, r.namespace, r.name)
            await connection.execute(
                """INSERT INTO runner_installations (namespace, name, uid, isolation, revision,
                       module_id, version, runtime, digest, permissions, configuration, limits,
                       active)
                   VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb,
                           $12::jsonb, $13)
                   ON CONFLICT (namespace, name) DO UPDATE SET uid = EXCLUDED.uid,
                       isolation = EXCLUDED.isolation, revision = EXCLUDED.revision,
                       module_id = EXCLUDED.module_id, version = EXCLUDED.version,
                       runtime = EXCLUDED.runtime, digest = EXCLUDED.digest,
                       permissions = EXCLUDED.permissions,
                       configuration = EXCLUDED.configuration, limits = EXCLUDED.limits,
                       updated_at = now()""",
                r.namespace,
                r.name,
                r.uid,
                r.isolation,
                r.revision,
                r.module_id,
                r.version,
                r.runtime,
                r.digest,
                list(r.permissions),
                r.configuration,
                r.limits,
                r.active,
            )
            # events from now on (those emitted before it was installed are not its own)
            await connection.execute(
                """INSERT INTO event_cursors (namespace, name, installation_uid, delivered_id)
                   VALUES ($1, $2, $3::uuid,
                           (SELECT coalesce(max(id), 0) FROM module_events WHERE namespace = $1))
                   ON CONFLICT (namespace, name) DO NOTHING""",
                r.namespace,
                r.name,
                r.uid,
            )

    async def set_active(self, namespace: str, name: str, active: bool) -> bool:
        status = await self._pool.execute(
            "UPDATE runner_installations SET active = $3, updated_at = now() "
            "WHERE namespace = $1 AND name = $2",
            namespace,
            name,
            active,
        )
        return status.endswith(" 1")

    async def remove(self, namespace: str, name: str, keep_data_of: str | None = None) -> bool:
        """Forget the installation, and its settings and storage unless they are kept for the
        next installation of its name (``keep_data_of``: the module's id); False if it was not
        there."""
        async with self._pool.acquire() as connection, connection.transaction():
            uid = await connection.fetchval(
                "DELETE FROM runner_installations WHERE namespace = $1 AND name = $2 "
                "RETURNING uid::text",
                namespace,
                name,
            )
            if uid is None:
                return False
            await connection.execute(
                "DELETE FROM event_cursors WHERE installation_uid = $1::uuid", uid
            )
            await kept.release(connection, uid, namespace, name, keep_data_of)
            return True

    async def registrations(
        self, namespace: str | None = None, name: str | None = None
    ) -> list[RunnerRegistration]:
        """Every row, a tenant's (``namespace``), or one installation's (and ``name``)."""
        if namespace is None:
            rows = await self._pool.fetch(SELECT)
        elif name is None:
            rows = await self._pool.fetch(SELECT + " WHERE namespace = $1", namespace)
        else:
            rows = await self._pool.fetch(
                SELECT + " WHERE namespace = $1 AND name = $2", namespace, name
            )
        return [_registration(row) for row in rows]

    async def tenants(self) -> set[str]:
        """The namespaces with at least one registration."""
        rows = await self._pool.fetch("SELECT DISTINCT namespace FROM runner_installations")
        return {row["namespace"] for row in rows}

    async def settings(self, uid: str) -> dict[str, Any]:
        rows = await self._pool.fetch(
            "SELECT key, value FROM module_settings WHERE installation_uid = $1::uuid", uid
        )
        return {row["key"]: row["value"] for row in rows}

    async def set_setting(self, uid: str, key: str, value: Any) -> None:
        await self._pool.execute(
            """INSERT INTO module_settings (installation_uid, key, value)
               VALUES ($1::uuid, $2, $3::jsonb)
               ON CONFLICT (installation_uid, key) DO UPDATE SET value = EXCLUDED.value""",
            uid,
            key,
            value,
        )
