"""The PostgreSQL schema: migrations produce exactly schema.sql; newer databases are refused;
nodes starting together migrate once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ems.storage.postgres import PostgresStore, SchemaTooNew
from ems.storage.postgres.migrations import current_schema, latest_version, migrate, migrations
from tests import pg


@pytest.fixture
async def conn() -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg.database_url())
    yield connection
    await connection.close()


def new_schema() -> str:
    return "m_" + os.urandom(6).hex()


async def schema_of(conn: asyncpg.Connection, schema: str) -> dict[str, object]:
    """Columns, constraints, indexes and sequences, by meaning and without the schema's name."""

    def plain(text: str) -> str:
        return " ".join(text.replace(f"{schema}.", "").split())

    columns = await conn.fetch(
        "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position",
        schema,
    )
    constraints = await conn.fetch(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = $1 ORDER BY 2",
        schema,
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
        schema,
    )
    sequences = await conn.fetch(
        "SELECT sequence_name, data_type FROM information_schema.sequences "
        "WHERE sequence_schema = $1 ORDER BY 1",
        schema,
    )
    options = await conn.fetch(
        "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.reloptions IS NOT NULL ORDER BY 1",
        schema,
    )
    return {
        "columns": [
            (t, c, d, n, plain(default) if default else None) for t, c, d, n, default in columns
        ],
        "constraints": [
            (plain(t), name, d) for t, name, d in constraints if "schema_migrations" not in t
        ],
        "indexes": [(n, plain(d)) for n, d in indexes if not n.startswith("schema_migrations")],
        "sequences": [tuple(s) for s in sequences],
        "options": [tuple(o) for o in options],
    }


async def test_migrating_from_nothing_gives_the_current_schema(conn: asyncpg.Connection) -> None:
    migrated, fresh = new_schema(), new_schema()
    assert await migrate(conn, migrated) == latest_version()
    await conn.execute(f'CREATE SCHEMA "{fresh}"; SET search_path TO "{fresh}"')
    await conn.execute(current_schema())
    assert await schema_of(conn, migrated) == await schema_of(conn, fresh)
    assert (await schema_of(conn, migrated))["columns"], "the schema must not be empty"


async def test_migrating_step_by_step_from_the_first_version(conn: asyncpg.Connection) -> None:
    stepwise, direct = new_schema(), new_schema()
    for version in range(1, latest_version() + 1):
        assert await migrate(conn, stepwise, target=version) == version
        recorded = await conn.fetchval(f'SELECT max(version) FROM "{stepwise}".schema_migrations')
        assert recorded == version
    await migrate(conn, direct)
    assert await schema_of(conn, stepwise) == await schema_of(conn, direct)


def test_migrations_are_numbered_without_gaps() -> None:
    assert [m.version for m in migrations()] == list(range(1, latest_version() + 1))


async def test_a_database_newer_than_the_code_is_refused(conn: asyncpg.Connection) -> None:
    schema = new_schema()
    await migrate(conn, schema)
    await conn.execute(
        f"INSERT INTO \"{schema}\".schema_migrations VALUES ({latest_version() + 1}, 'future')"
    )
    with pytest.raises(SchemaTooNew, match="upgrade EMS"):
        await migrate(conn, schema)
    store = PostgresStore(pg.database_url(), schema=schema, connect_timeout=5)
    with pytest.raises(SchemaTooNew):
        await store.open()


async def test_nodes_starting_together_migrate_once() -> None:
    schema = new_schema()
    stores = [PostgresStore(pg.database_url(), schema=schema, pool_size=2) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        conn = await asyncpg.connect(pg.database_url())
        rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        await conn.close()
        assert sorted(r[0] for r in rows) == list(range(1, latest_version() + 1))
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_a_bad_schema_name_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="schema name"):
        PostgresStore("postgresql://nowhere.invalid/db", schema='x"; DROP TABLE queues; --')
