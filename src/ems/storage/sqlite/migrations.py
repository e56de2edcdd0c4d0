"""Versioned schema migrations, tracked in ``PRAGMA user_version``.

``sql/migrations/NNNN_*.sql`` are applied in order, each in its own transaction together with
the version bump, so a crash mid-migration leaves the previous version intact.
``sql/schema.sql`` is the current schema in full; a test checks that migrating from nothing
produces exactly it.
"""

from __future__ import annotations

import sqlite3

from ems.storage.migrations import Migration, SchemaTooNew, load_migrations, read_schema

_SQL = "ems.storage.sqlite.sql"


def migrations() -> list[Migration]:
    return load_migrations(_SQL)


def current_schema() -> str:
    return read_schema(_SQL)


def latest_version() -> int:
    return len(migrations())


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> int:
    """Bring the database to ``target`` (default: latest); returns the version reached."""
    available = migrations()
    target = len(available) if target is None else target
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(available):
        raise SchemaTooNew(
            f"the database has schema version {version}, but this EMS knows only up to "
            f"{len(available)}: upgrade EMS before starting it on this data"
        )
    for migration in available[version:target]:
        # executescript commits first, so BEGIN here opens a fresh transaction for the script
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                f"PRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return max(version, target)
