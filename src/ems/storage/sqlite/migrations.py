"""Versioned schema migrations, tracked in ``PRAGMA user_version``.

``sql/migrations/NNNN_*.sql`` are applied in order, each in its own transaction together with
the version bump, so a crash mid-migration leaves the previous version intact.
``sql/schema.sql`` is the current schema in full; a test checks that migrating from nothing
produces exactly it.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib.resources import files

from ems.storage.base import StoreUnusable

_FILE = re.compile(r"(\d{4})_\w+\.sql")


class SchemaTooNew(StoreUnusable):
    """The database was written by a newer EMS; starting would risk damaging it."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    found = []
    for entry in files("ems.storage.sqlite.sql.migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps; found {versions}")
    return found


def current_schema() -> str:
    return (files("ems.storage.sqlite.sql") / "schema.sql").read_text()


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
