"""A module's own database: a schema and a login role per installation, its migrations applied
once each, its queries run as that role, and all of it dropped with the installation.

Why it exists: a module that ships ``migrations/NNN_name.sql`` gets tables of its own in the
platform's PostgreSQL. Its SQL is the module author's, so it never runs as the service's user: the
worker makes a role ``mod_<uid hex>`` (LOGIN, no other privilege, a statement timeout, at most a
few connections) owning a schema of the same name, and connects *as that role* to apply the
migrations and, in the runner, to answer ``sdk.db.query`` (a ``SET ROLE`` on the service's own
connection would not do: the module's SQL could ``RESET ROLE``). The role may not read the
service's tables, another installation's schema, or anything it was not granted. Migrations run
in version order, each in a transaction with its bookkeeping row (``adx_migrations`` in the
module's schema), so a retried step applies each exactly once; a migration that changed since it
was applied is refused. The service's database user needs CREATEROLE (the embedded PostgreSQL's
is a superuser).
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import hashlib
import io
import secrets
import tarfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from adx_module_sdk.errors import BadInputError, PermissionDeniedError
from adx_modules.api import reasons as r
from adx_modules.api.module import Migration
from adx_modules.clients.postgres import Store, module_schema
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef

MAX_ROWS = 1000
STATEMENT_TIMEOUT = "5s"
CONNECTIONS = 4
BOOKKEEPING = """CREATE TABLE IF NOT EXISTS adx_migrations (
    version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""


@dataclass(frozen=True)
class MigrationFile:
    version: int
    name: str
    sha256: str
    sql: str


def migration_files(package: bytes, declared: Sequence[Migration]) -> list[MigrationFile]:
    """The Module's declared migrations, read from its package (``code/migrations/``), each
    checked against the digest the Module declares."""
    found: list[MigrationFile] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as archive:
            for migration in declared:
                where = f"migrations/{migration.name}"
                try:
                    member = archive.extractfile(f"code/{where}")
                except KeyError:
                    member = None
                if member is None:
                    raise StepError(r.INVALID_MODULE, f"the package has no {where}")
                data = member.read()
                if hashlib.sha256(data).hexdigest() != migration.sha256:
                    raise StepError(
                        r.INVALID_MODULE,
                        f"{where}: its content is not the digest the Module declares",
                    )
                found.append(
                    MigrationFile(
                        migration.version, migration.name, migration.sha256, data.decode()
                    )
                )
    except (tarfile.TarError, UnicodeDecodeError) as error:
        raise StepError(r.INVALID_MODULE, f"the migrations cannot be read: {error}") from None
    return found


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


class ModuleDatabases:
    """The module databases of every installation, over the service's own store."""

    def __init__(self, store: Store, url: str) -> None:
        self._store = store
        self._url = url
        self._pools: dict[str, asyncpg.Pool] = {}

    async def _credentials(self, uid: str) -> tuple[str, str] | None:
        row = await self._store.pool.fetchrow(
            "SELECT role, password FROM module_databases WHERE installation_uid = $1::uuid", uid
        )
        return (row["role"], row["password"]) if row else None

    async def ensure(self, uid: str, namespace: str, name: str) -> str:
        """The installation's role and schema exist (idempotent); the role's name."""
        role = module_schema(uid)
        await self._store.pool.execute(
            """INSERT INTO module_databases (installation_uid, namespace, name, role, password)
               VALUES ($1::uuid, $2, $3, $4, $5) ON CONFLICT (installation_uid) DO NOTHING""",
            uid,
            namespace,
            name,
            role,
            secrets.token_urlsafe(24),
        )
        credentials = await self._credentials(uid)
        assert credentials is not None  # noqa: S101 - inserted above
        role, password = credentials  # a database taken over (kept.py) keeps its role's name
        quoted = _ident(role)
        async with self._store.pool.acquire() as connection:
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                with contextlib.suppress(asyncpg.DuplicateObjectError):  # a concurrent retry
                    await connection.execute(
                        f"CREATE ROLE {quoted} LOGIN NOINHERIT CONNECTION LIMIT {CONNECTIONS} "
                        f"PASSWORD '{password}'"
                    )
            await connection.execute(f"GRANT {quoted} TO CURRENT_USER")
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted} AUTHORIZATION {quoted}")
            await connection.execute(f"ALTER ROLE {quoted} SET search_path = {quoted}")
            await connection.execute(
                f"ALTER ROLE {quoted} SET statement_timeout = '{STATEMENT_TIMEOUT}'"
            )
        return role

    async def _connect(self, uid: str) -> asyncpg.Connection:
        credentials = await self._credentials(uid)
        if credentials is None:
            raise StepError(r.INVALID_MODULE, "the installation has no database")
        role, password = credentials
        connection: asyncpg.Connection = await asyncpg.connect(
            self._url, user=role, password=password
        )
        return connection

    async def migrate(self, uid: str, migrations: list[MigrationFile]) -> list[str]:
        """Apply what was not applied yet, in version order, as the installation's role; the
        names applied now. A changed migration, or one that fails, is a StepError naming it."""
        connection = await self._connect(uid)
        applied_now: list[str] = []
        try:
            await connection.execute(BOOKKEEPING)
            done = {
                row["version"]: row["sha256"]
                for row in await connection.fetch("SELECT version, sha256 FROM adx_migrations")
            }
            for migration in sorted(migrations, key=lambda m: m.version):
                if migration.version in done:
                    if done[migration.version] != migration.sha256:
                        raise StepError(
                            r.INVALID_MODULE,
                            f"migration {migration.name} changed since it was applied "
                            "(a migration is never edited: add a new one)",
                        )
                    continue
                try:
                    async with connection.transaction():
                        await connection.execute(migration.sql)
                        await connection.execute(
                            "INSERT INTO adx_migrations (version, name, sha256) VALUES ($1,$2,$3)",
                            migration.version,
                            migration.name,
                            migration.sha256,
                        )
                except asyncpg.PostgresError as error:
                    raise StepError(
                        r.INVALID_MODULE, f"migration {migration.name} failed: {error}"
                    ) from None
                applied_now.append(migration.name)
        finally:
            await connection.close()
        return applied_now

    async def drop_unheld(self, ref: InstallationRef) -> list[str]:
        """Drop the databases of ``ref``'s name that no installation holds (not registered, not
        kept for the next one: kept.py); the roles dropped. Idempotent, so a repeated uninstall
        step finishes what a crash interrupted."""
        unheld = await self._store.pool.fetch(
            """SELECT installation_uid::text AS uid FROM module_databases d
               WHERE namespace = $1 AND name = $2
                 AND NOT EXISTS (SELECT 1 FROM runner_installations i
                                 WHERE i.uid = d.installation_uid)
                 AND NOT EXISTS (SELECT 1 FROM kept_module_data k
                                 WHERE k.uid = d.installation_uid)""",
            ref.namespace,
            ref.name,
        )
        dropped = [await self.drop(row["uid"]) for row in unheld]
        return [role for role in dropped if role]

    async def drop(self, uid: str) -> str | None:
        """The installation's schema, tables and role gone; the role, or None if it had none."""
        credentials = await self._credentials(uid)
        if credentials is None:
            return None
        role = _ident(credentials[0])
        await self.close(uid)
        async with self._store.pool.acquire() as connection:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                credentials[0],
            )
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_roles WHERE rolname = $1", credentials[0]
            )
            if exists:
                await connection.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
                await connection.execute(f"DROP OWNED BY {role}")
                await connection.execute(f"DROP ROLE IF EXISTS {role}")
            await connection.execute(
                "DELETE FROM module_databases WHERE installation_uid = $1::uuid", uid
            )
        return credentials[0]

    # --- the runner's side: sdk.db ------------------------------------------------------

    async def query(self, uid: str, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """``sql`` as the installation's role: its rows (at most MAX_ROWS), JSON-ready."""
        pool = self._pools.get(uid)
        if pool is None:
            credentials = await self._credentials(uid)
            if credentials is None:
                raise PermissionDeniedError(
                    "the module has no database: it ships no migrations/NNN_name.sql"
                )
            pool = await asyncpg.create_pool(
                self._url,
                user=credentials[0],
                password=credentials[1],
                min_size=0,
                max_size=2,
            )
            self._pools[uid] = pool
        try:
            async with pool.acquire() as connection:
                rows = await connection.fetch(sql, *params)
        except asyncpg.InsufficientPrivilegeError as error:
            raise PermissionDeniedError(f"the module's database refused: {error}") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise BadInputError(f"the module's database refused: {error}") from None
        if len(rows) > MAX_ROWS:
            raise BadInputError(f"{len(rows)} rows: a query answers at most {MAX_ROWS}")
        answer: list[dict[str, Any]] = [
            {key: _json_value(value) for key, value in row.items()} for row in rows
        ]
        return answer

    async def close(self, uid: str | None = None) -> None:
        """Let go of one installation's connections, or all."""
        for key in [uid] if uid else list(self._pools):
            pool = self._pools.pop(key, None)
            if pool is not None:
                await pool.close()
