"""Versioned schema migrations for PostgreSQL, applied at start under an advisory lock.

``sql/migrations/NNNN_*.sql`` are applied in order, each in its own transaction together with
its row in ``schema_migrations``, so a crash mid-migration leaves the previous version intact.
Several nodes starting at once take turns on the lock: the first migrates, the others find the
work done. A database migrated by a newer EMS is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ems.storage.migrations import Migration, SchemaTooNew, load_migrations, read_schema

if TYPE_CHECKING:
    from asyncpg import Connection

_SQL = "ems.storage.postgres.sql"


def migrations() -> list[Migration]:
    return load_migrations(_SQL)


def current_schema() -> str:
    return read_schema(_SQL)


def latest_version() -> int:
    return len(migrations())


async def migrate(conn: Connection, schema: str, *, target: int | None = None) -> int:
    """Bring ``schema`` to ``target`` (default: latest); returns the version reached."""
    available = migrations()
    target = len(available) if target is None else target
    # one migrator at a time, per schema: the lock key is derived from the schema's name
    await conn.execute("SELECT pg_advisory_lock(hashtext('ems/migrate/' || $1))", schema)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, name text NOT NULL)"
        )
        version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        if version > len(available):
            raise SchemaTooNew(
                f"the database has schema version {version}, but this EMS knows only up to "
                f"{len(available)}: upgrade EMS before starting it on this database"
            )
        for migration in available[version:target]:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
        return int(max(version, target))
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext('ems/migrate/' || $1))", schema)
