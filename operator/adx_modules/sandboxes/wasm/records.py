"""The WASM host's tables (db/migrations/003_wasm.sql, 004_event_delivery.sql): binaries,
registrations, storage, events and their subscribers' cursors, and denied calls.

Why it exists: registrations are rows, not memory. The worker's sandbox activities write them
(at least once: every write is an idempotent upsert) and every host replica reads them, at
start and whenever told or on its own schedule, so a host that dies loses nothing and a
provision that is retried changes nothing twice.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from adx_modules.clients.postgres import Store
from adx_modules.sandboxes import kept
from adx_modules.sandboxes.wasm.limits import CallLimits


class LimitReachedError(Exception):
    """sandbox.max_sandboxes WASM installations exist already."""


class QuotaExceededError(Exception):
    """A storage write past the installation's quota."""


@dataclass(frozen=True)
class Event:
    """One event of a tenant's log: its id (ascending, for de-duplication), topic, JSON
    payload, and the installation that emitted it."""

    id: int
    topic: str
    payload: Any
    source: str


@dataclass(frozen=True)
class RevisionSpec:
    """One revision of an installation: the module that runs and its rights."""

    revision: int
    module_id: str
    version: str
    digest: str
    functions: tuple[str, ...]
    permissions: tuple[str, ...]
    configuration: dict[str, Any]
    limits: CallLimits


@dataclass(frozen=True)
class Registration:
    """An installation the host runs: what should serve, what serves, and whether it is on."""

    namespace: str
    name: str
    uid: str
    active: bool
    desired: RevisionSpec
    serving: RevisionSpec | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _revision(row: asyncpg.Record) -> RevisionSpec:
    return RevisionSpec(
        revision=row["revision"],
        module_id=row["module_id"],
        version=row["version"],
        digest=row["digest"],
        functions=tuple(row["functions"]),
        permissions=tuple(row["permissions"]),
        configuration=dict(row["configuration"]),
        limits=CallLimits(**row["limits"]),
    )


REGISTRATIONS = """
SELECT i.namespace, i.name, i.uid::text AS uid, i.active,
       i.desired_revision, i.serving_revision, r.revision, r.module_id, r.version,
       r.digest, r.functions, r.permissions, r.configuration, r.limits
FROM wasm_installations i
JOIN wasm_revisions r ON r.namespace = i.namespace AND r.name = i.name
     AND r.revision IN (i.desired_revision, i.serving_revision)
"""


class WasmRecords:
    """Reads and writes of the host's tables."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    # --- written by the worker --------------------------------------------------------

    async def store_binary(self, digest: str, binary: bytes) -> None:
        await self._pool.execute(
            "INSERT INTO wasm_modules (digest, content) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            digest,
            binary,
        )

    async def has_binary(self, digest: str) -> bool:
        found = await self._pool.fetchval("SELECT 1 FROM wasm_modules WHERE digest = $1", digest)
        return found is not None

    async def register(
        self, namespace: str, name: str, uid: str, spec: RevisionSpec, max_installations: int
    ) -> None:
        """Record ``spec`` as the installation's desired revision; LimitReachedError when it
        is new and ``max_installations`` exist. A row left by an earlier installation of the
        same name (another uid) is replaced, its storage dropped."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("LOCK TABLE wasm_installations IN SHARE ROW EXCLUSIVE MODE")
            existing = await connection.fetchrow(
                "SELECT uid::text AS uid FROM wasm_installations "
                "WHERE namespace = $1 AND name = $2",
                namespace,
                name,
            )
            if existing is None:
                count = await connection.fetchval("SELECT count(*) FROM wasm_installations")
                if count >= max_installations:
                    raise LimitReachedError(f"{count} WASM installations exist")
            elif existing["uid"] != uid:
                await kept.release(connection, existing["uid"], namespace, name)
                await connection.execute(
                    "DELETE FROM event_cursors WHERE namespace = $1 AND name = $2", namespace, name
                )
                await connection.execute(
                    "DELETE FROM wasm_installations WHERE namespace = $1 AND name = $2",
                    namespace,
                    name,
                )
            await connection.execute(
                """INSERT INTO wasm_installations (namespace, name, uid, desired_revision)
                   VALUES ($1, $2, $3::uuid, $4)
                   ON CONFLICT (namespace, name) DO UPDATE
                   SET desired_revision = EXCLUDED.desired_revision, updated_at = now()""",
                namespace,
                name,
                uid,
                spec.revision,
            )
            # events from now on (those emitted before it was installed are not its own)
            await connection.execute(
                """INSERT INTO event_cursors (namespace, name, installation_uid, delivered_id)
                   VALUES ($1, $2, $3::uuid,
                           (SELECT coalesce(max(id), 0) FROM module_events WHERE namespace = $1))
                   ON CONFLICT (namespace, name) DO NOTHING""",
                namespace,
                name,
                uid,
            )
            await connection.execute(
                """INSERT INTO wasm_revisions (namespace, name, revision, module_id, version,
                       digest, functions, permissions, configuration, limits)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   ON CONFLICT (namespace, name, revision) DO UPDATE
                   SET module_id = EXCLUDED.module_id, version = EXCLUDED.version,
                       digest = EXCLUDED.digest, functions = EXCLUDED.functions,
                       permissions = EXCLUDED.permissions,
                       configuration = EXCLUDED.configuration, limits = EXCLUDED.limits""",
                namespace,
                name,
                spec.revision,
                spec.module_id,
                spec.version,
                spec.digest,
                list(spec.functions),
                list(spec.permissions),
                spec.configuration,
                dataclasses.asdict(spec.limits),
            )

    async def set_serving(self, namespace: str, name: str, revision: int) -> None:
        await self._pool.execute(
            "UPDATE wasm_installations SET serving_revision = $3, updated_at = now() "
            "WHERE namespace = $1 AND name = $2",
            namespace,
            name,
            revision,
        )

    async def set_active(self, namespace: str, name: str, active: bool) -> bool:
        """Whether a registration was there to change."""
        result = await self._pool.execute(
            "UPDATE wasm_installations SET active = $3, updated_at = now() "
            "WHERE namespace = $1 AND name = $2",
            namespace,
            name,
            active,
        )
        return str(result) != "UPDATE 0"

    async def remove(self, namespace: str, name: str, keep_data_of: str | None = None) -> bool:
        """Forget the installation, its revisions, its storage unless it is kept for the next
        installation of its name (``keep_data_of``: the module's id), and every binary no
        revision runs any more; whether it was there."""
        async with self._pool.acquire() as connection, connection.transaction():
            uid = await connection.fetchval(
                "DELETE FROM wasm_installations WHERE namespace = $1 AND name = $2 "
                "RETURNING uid::text",
                namespace,
                name,
            )
            if uid is not None:
                await kept.release(connection, uid, namespace, name, keep_data_of)
            await connection.execute(
                "DELETE FROM event_cursors WHERE namespace = $1 AND name = $2", namespace, name
            )
            await connection.execute(
                "DELETE FROM wasm_modules m WHERE NOT EXISTS "
                "(SELECT 1 FROM wasm_revisions r WHERE r.digest = m.digest)"
            )
        return uid is not None

    # --- read by the host -------------------------------------------------------------

    async def registrations(
        self, namespace: str | None = None, name: str | None = None
    ) -> list[Registration]:
        """Every registration (or one), with its desired and serving revisions."""
        query, args = REGISTRATIONS, []
        if namespace is not None:
            query += " WHERE i.namespace = $1 AND i.name = $2"
            args = [namespace, name]
        rows = await self._pool.fetch(query, *args)
        grouped: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in rows:
            grouped.setdefault((row["namespace"], row["name"]), []).append(row)
        found = []
        for (ns, nm), group in sorted(grouped.items()):
            first = group[0]
            by_revision = {row["revision"]: _revision(row) for row in group}
            desired = by_revision.get(first["desired_revision"])
            if desired is None:
                continue
            found.append(
                Registration(
                    namespace=ns,
                    name=nm,
                    uid=first["uid"],
                    active=first["active"],
                    desired=desired,
                    serving=by_revision.get(first["serving_revision"]),
                )
            )
        return found

    async def binary(self, digest: str) -> bytes | None:
        data = await self._pool.fetchval(
            "SELECT content FROM wasm_modules WHERE digest = $1", digest
        )
        return bytes(data) if data is not None else None

    # --- the host API -----------------------------------------------------------------

    async def storage_get(self, uid: str, key: str) -> bytes | None:
        value = await self._pool.fetchval(
            "SELECT value FROM module_storage WHERE installation_uid = $1::uuid AND key = $2",
            uid,
            key,
        )
        return bytes(value) if value is not None else None

    async def storage_put(self, uid: str, key: str, value: bytes, quota: int) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", uid)
            used = await connection.fetchval(
                "SELECT coalesce(sum(octet_length(key) + octet_length(value)), 0) "
                "FROM module_storage WHERE installation_uid = $1::uuid AND key <> $2",
                uid,
                key,
            )
            if used + len(key.encode()) + len(value) > quota:
                raise QuotaExceededError(
                    f"{used} of {quota} bytes used; this value needs {len(value)}"
                )
            await connection.execute(
                """INSERT INTO module_storage (installation_uid, key, value)
                   VALUES ($1::uuid, $2, $3)
                   ON CONFLICT (installation_uid, key) DO UPDATE SET value = EXCLUDED.value""",
                uid,
                key,
                value,
            )

    async def storage_delete(self, uid: str, key: str) -> None:
        await self._pool.execute(
            "DELETE FROM module_storage WHERE installation_uid = $1::uuid AND key = $2", uid, key
        )

    async def emit(self, uid: str, namespace: str, name: str, topic: str, payload: Any) -> None:
        await self._pool.execute(
            "INSERT INTO module_events (installation_uid, namespace, name, topic, payload) "
            "VALUES ($1::uuid, $2, $3, $4, $5)",
            uid,
            namespace,
            name,
            topic,
            payload,
        )

    async def pending_events(self, namespace: str, name: str, limit: int) -> list[Event]:
        """The events of ``namespace`` after the subscriber's cursor, oldest first."""
        rows = await self._pool.fetch(
            """SELECT e.id, e.topic, e.payload, e.name AS source
               FROM module_events e
               JOIN event_cursors c ON c.namespace = e.namespace AND c.name = $2
               WHERE e.namespace = $1 AND e.id > c.delivered_id
               ORDER BY e.id LIMIT $3""",
            namespace,
            name,
            limit,
        )
        return [Event(row["id"], row["topic"], row["payload"], row["source"]) for row in rows]

    async def advance(self, namespace: str, name: str, event_id: int) -> None:
        """Every event up to ``event_id`` is handled by this subscriber."""
        await self._pool.execute(
            "UPDATE event_cursors SET delivered_id = greatest(delivered_id, $3) "
            "WHERE namespace = $1 AND name = $2",
            namespace,
            name,
            event_id,
        )

    async def deny(self, uid: str, namespace: str, name: str, call: str, needed: str) -> None:
        await self._pool.execute(
            "INSERT INTO capability_denials (installation_uid, namespace, name, call, needed) "
            "VALUES ($1::uuid, $2, $3, $4, $5)",
            uid,
            namespace,
            name,
            call,
            needed,
        )

    async def denials(self, namespace: str, name: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT call, needed, at FROM capability_denials "
            "WHERE namespace = $1 AND name = $2 ORDER BY id",
            namespace,
            name,
        )
        return [dict(row) for row in rows]


def payload_json(data: bytes) -> Any:
    """An event payload: JSON, or ValueError naming why not."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the payload is not JSON ({error})") from None
