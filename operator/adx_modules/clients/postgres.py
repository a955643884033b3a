"""PostgreSQL: the lifecycle's records (installations, revisions, audit trail) and the scan
verdicts cached by digest, through asyncpg.

Why it exists: activities record what the lifecycle did, and they run at least once, so every
write here is idempotent (upserts; inserts that ignore a repeat). Migrations are applied in
order, once, under an advisory lock, so several workers starting together do not race.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import resources
from types import TracebackType
from typing import Any

import asyncpg

MIGRATION_LOCK = 7_300_142  # arbitrary, fixed: the advisory lock that serialises migrations


@dataclass(frozen=True)
class ScanRecord:
    """A scan's verdict on one artifact digest, with what it was scanned with."""

    digest: str
    db_version: str
    rules_version: str
    score: int
    counts: dict[str, int]
    findings: list[dict[str, Any]]


@dataclass(frozen=True)
class RevisionRecord:
    """One applied revision of an installation."""

    revision: int
    version: str
    configuration: dict[str, Any]
    configuration_hash: str
    workflow_id: str


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("adx_modules.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text()))
    return sorted(found)


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


def module_schema(uid: str) -> str:
    """The schema (and database role) of an installation's own tables: ``mod_<uid hex>``."""
    return "mod_" + uid.replace("-", "").lower()


class Store:
    """The service's tables, in one schema (``public`` unless settings say otherwise)."""

    def __init__(self, pool: asyncpg.Pool, schema: str = "public") -> None:
        self._pool = pool
        self.schema = schema

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        schema: str = "public",
        pool_size: int = 10,
        command_timeout: float | None = None,
    ) -> Store:
        """A pool on ``url``; with ``command_timeout``, a query that takes longer (a lock held,
        a server that stopped answering) raises TimeoutError instead of waiting on."""
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            command_timeout=command_timeout,
            max_size=pool_size,
            # OLTP: short queries, where starting parallel workers costs more than it saves
            # (5 to 9 ms a query on 2 cores, measured by the marketplace benchmark)
            server_settings={"search_path": schema, "max_parallel_workers_per_gather": "0"},
            init=_init_connection,
        )
        return cls(pool, schema)

    @property
    def pool(self) -> asyncpg.Pool:
        """The connections, for a feature's own tables (the WASM host's, say)."""
        return self._pool

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def migrate(self) -> list[str]:
        """Apply the migrations not applied yet, in order; return their names."""
        applied: list[str] = []
        async with self._pool.acquire() as connection:
            await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {
                    r["version"]
                    for r in await connection.fetch("SELECT version FROM schema_migrations")
                }
                for number, name, sql in _migrations():
                    if number in done:
                        continue
                    async with connection.transaction():
                        await connection.execute(sql)
                        await connection.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            number,
                            name,
                        )
                    applied.append(name)
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return applied

    async def upsert_installation(
        self,
        *,
        uid: str,
        namespace: str,
        name: str,
        module_id: str,
        phase: str,
        version: str | None = None,
        isolation: str | None = None,
        revision: int | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> None:
        """Create or update the installation's row (fields left None keep their value)."""
        await self._pool.execute(
            """
            INSERT INTO installations
                (uid, namespace, name, module_id, phase, version, isolation, revision,
                 configuration)
            VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 0), coalesce($9, '{}'::jsonb))
            ON CONFLICT (uid) DO UPDATE SET
                phase = EXCLUDED.phase,
                version = coalesce($6, installations.version),
                isolation = coalesce($7, installations.isolation),
                revision = coalesce($8, installations.revision),
                configuration = coalesce($9, installations.configuration),
                updated_at = now(),
                uninstalled_at = CASE WHEN EXCLUDED.phase = 'Uninstalled'
                                      THEN coalesce(installations.uninstalled_at, now())
                                      ELSE installations.uninstalled_at END
            """,
            uid,
            namespace,
            name,
            module_id,
            phase,
            version,
            isolation,
            revision,
            configuration,
        )

    async def installation(self, uid: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow("SELECT * FROM installations WHERE uid = $1", uid)
        return dict(row) if row else None

    async def record_revision(self, uid: str, record: RevisionRecord) -> None:
        """Record a revision; recording the same revision again changes nothing."""
        await self._pool.execute(
            """
            INSERT INTO revisions
                (installation_uid, revision, version, configuration, configuration_hash,
                 workflow_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (installation_uid, revision) DO NOTHING
            """,
            uid,
            record.revision,
            record.version,
            record.configuration,
            record.configuration_hash,
            record.workflow_id,
        )

    async def revisions(self, uid: str) -> list[RevisionRecord]:
        rows = await self._pool.fetch(
            "SELECT revision, version, configuration, configuration_hash, workflow_id"
            " FROM revisions WHERE installation_uid = $1 ORDER BY revision",
            uid,
        )
        return [RevisionRecord(**dict(row)) for row in rows]

    async def audit(
        self,
        *,
        uid: str,
        namespace: str,
        name: str,
        workflow_id: str,
        action: str,
        step: str,
        outcome: str,
        actor: str,
        detail: str = "",
    ) -> None:
        """Append to the audit trail; a repeated (workflow, step, outcome) is ignored."""
        await self._pool.execute(
            """
            INSERT INTO audit_events
                (installation_uid, namespace, name, workflow_id, action, step, outcome, actor,
                 detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (workflow_id, step, outcome) DO NOTHING
            """,
            uid,
            namespace,
            name,
            workflow_id,
            action,
            step,
            outcome,
            actor,
            detail,
        )

    async def backup(
        self, *, workflow_id: str, uid: str, namespace: str, name: str, contents: dict[str, Any]
    ) -> None:
        """Keep ``contents`` (the installation's data) past its uninstall; once per workflow."""
        await self._pool.execute(
            """
            INSERT INTO backups (workflow_id, installation_uid, namespace, name, contents)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (workflow_id) DO NOTHING
            """,
            workflow_id,
            uid,
            namespace,
            name,
            contents,
        )

    async def module_data(self, uid: str) -> dict[str, Any]:
        """What a module keeps for itself: its storage (values base64) and its own settings."""
        storage = await self._pool.fetch(
            "SELECT key, value FROM module_storage WHERE installation_uid = $1::uuid ORDER BY key",
            uid,
        )
        settings = await self._pool.fetch(
            "SELECT key, value FROM module_settings WHERE installation_uid = $1::uuid ORDER BY key",
            uid,
        )
        return {
            "storage": {r["key"]: base64.b64encode(bytes(r["value"])).decode() for r in storage},
            "settings": {r["key"]: r["value"] for r in settings},
            "tables": await self._module_tables(uid),
        }

    async def _module_tables(self, uid: str) -> dict[str, Any]:
        """The rows of the installation's own tables (its schema), up to 10,000 per table."""
        schema = await self._pool.fetchval(
            "SELECT role FROM module_databases WHERE installation_uid = $1::uuid", uid
        ) or module_schema(uid)  # a database taken over from a kept one keeps its name
        names = await self._pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            schema,
        )
        tables: dict[str, Any] = {}
        for row in names:
            quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, row[0]))
            rows = await self._pool.fetchval(
                f"SELECT coalesce(json_agg(t), '[]'::json) FROM "  # noqa: S608 - quoted names
                f"(SELECT * FROM {quoted} LIMIT 10000) t"
            )
            tables[row[0]] = json.loads(rows) if isinstance(rows, str) else rows
        return tables

    async def record_scan(self, record: ScanRecord) -> ScanRecord:
        """Keep a verdict; if one exists for the same digest and versions, that one stands
        (and is returned): a repeated activity or a racing worker changes nothing."""
        await self._pool.execute(
            """
            INSERT INTO scans (digest, db_version, rules_version, score, counts, findings)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (digest, db_version, rules_version) DO NOTHING
            """,
            record.digest,
            record.db_version,
            record.rules_version,
            record.score,
            record.counts,
            record.findings,
        )
        stored = await self.scan(record.digest, record.db_version, record.rules_version)
        assert stored is not None  # noqa: S101 - written or already there, in this very call
        return stored

    async def scan(self, digest: str, db_version: str, rules_version: str) -> ScanRecord | None:
        """The cached verdict on ``digest`` for these versions, if any."""
        row = await self._pool.fetchrow(
            """
            SELECT digest, db_version, rules_version, score, counts, findings FROM scans
            WHERE digest = $1 AND db_version = $2 AND rules_version = $3
            """,
            digest,
            db_version,
            rules_version,
        )
        return ScanRecord(**dict(row)) if row else None

    async def latest_scan(self, digest: str, db_version: str | None = None) -> ScanRecord | None:
        """The newest verdict on ``digest`` (with that database version, when given)."""
        row = await self._pool.fetchrow(
            """
            SELECT digest, db_version, rules_version, score, counts, findings FROM scans
            WHERE digest = $1 AND ($2::text IS NULL OR db_version = $2)
            ORDER BY scanned_at DESC LIMIT 1
            """,
            digest,
            db_version,
        )
        return ScanRecord(**dict(row)) if row else None
