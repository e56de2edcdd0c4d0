"""The SQLite schema: migrations produce exactly schema.sql; newer databases are refused."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ems.core.ids import new_message_id
from ems.core.models import (
    NewMessage,
    Outcome,
    QueueCapabilities,
    QueueConfig,
    Receipt,
    ReceiveRequest,
)
from ems.storage.migrations import SchemaTooNew
from ems.storage.sqlite.migrations import (
    current_schema,
    latest_version,
    migrate,
    migrations,
)
from ems.storage.sqlite.store import DataDirInUse, SqliteStore


def schema_of(conn: sqlite3.Connection) -> dict[str, object]:
    """Tables (columns, keys), indexes and triggers, compared by meaning, not by SQL text:
    ALTER TABLE appends columns to a table's stored CREATE statement in its own layout."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    schema: dict[str, object] = {}
    for table in sorted(t for t in tables if not t.startswith("sqlite_")):
        schema[f"table {table}"] = {
            "columns": conn.execute(f"PRAGMA table_xinfo({table})").fetchall(),
            "foreign keys": conn.execute(f"PRAGMA foreign_key_list({table})").fetchall(),
            "without rowid": "WITHOUT ROWID" in _create_statement(conn, table),
            # not in table_xinfo, and it decides whether row numbers are ever reused
            "autoincrement": "AUTOINCREMENT" in _create_statement(conn, table).upper(),
        }
    for kind, name, sql in conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view')"
        " AND sql IS NOT NULL ORDER BY name"
    ):
        schema[f"{kind} {name}"] = " ".join(sql.split())
    return schema


def _create_statement(conn: sqlite3.Connection, table: str) -> str:
    sql: str = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    return sql


def test_migrating_from_nothing_gives_the_current_schema(tmp_path: Path) -> None:
    migrated = sqlite3.connect(tmp_path / "migrated.db", isolation_level=None)
    assert migrate(migrated) == latest_version()
    fresh = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    fresh.executescript(current_schema())
    assert schema_of(migrated) == schema_of(fresh)
    assert schema_of(migrated), "the schema must not be empty"


def test_migrating_step_by_step_gives_the_same_schema(tmp_path: Path) -> None:
    stepwise = sqlite3.connect(tmp_path / "stepwise.db", isolation_level=None)
    for version in range(1, latest_version() + 1):
        assert migrate(stepwise, target=version) == version
        assert stepwise.execute("PRAGMA user_version").fetchone()[0] == version
    direct = sqlite3.connect(tmp_path / "direct.db", isolation_level=None)
    migrate(direct)
    assert schema_of(stepwise) == schema_of(direct)


def test_migrations_are_numbered_without_gaps() -> None:
    assert [m.version for m in migrations()] == list(range(1, latest_version() + 1))


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "future.db", isolation_level=None)
    migrate(conn)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade EMS"):
        migrate(conn)


async def test_two_stores_cannot_share_a_data_dir(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "ems.sqlite3")
    await first.open()
    try:
        with pytest.raises(DataDirInUse):
            await SqliteStore(tmp_path / "ems.sqlite3").open()
    finally:
        await first.close()
    again = SqliteStore(tmp_path / "ems.sqlite3")
    await again.open()
    await again.close()


async def test_default_durability_is_fsync_per_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ems.sqlite3")
    await store.open()
    try:
        probe = sqlite3.connect(tmp_path / "ems.sqlite3")
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        probe.close()
        assert store._writer is not None
        # 2 is FULL: the WAL is synced on every commit
        assert store._writer.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        await store.close()


async def test_version_5_keeps_every_message_and_never_reuses_a_number(tmp_path: Path) -> None:
    """Before version 5, deleting the newest message handed its number (and so its receipt
    handle) to the next one sent. Upgrading keeps every row as it was, and EMS then numbers
    messages far above any number the old scheme can have handed out, so a handle held across
    the upgrade cannot meet a new message; the numbering only grows, across restarts too."""
    path = tmp_path / "ems.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=4)
    conn.execute("INSERT INTO partitions DEFAULT VALUES")
    for i in range(3):
        conn.execute(
            "INSERT INTO messages (partition, visible_at, sent_at, message_id, body) "
            "VALUES (1, 0, 0, ?, ?)",
            (f"m{i}", b"body %d" % i),
        )
    conn.execute("DELETE FROM messages WHERE seq = 3")  # the newest, as a delete would
    before = conn.execute("SELECT seq, message_id, body FROM messages ORDER BY seq").fetchall()
    conn.close()
    queue = os.urandom(32)
    numbers: list[int] = []
    for _ in range(2):  # and again after a restart
        store = SqliteStore(path)
        await store.open()
        try:
            if not numbers:
                await store.create_queue(
                    QueueCapabilities(queue, os.urandom(32), os.urandom(32)), QueueConfig()
                )
            await store.send(queue, [NewMessage(new_message_id(), b"new")])
            received = await store.receive(queue, ReceiveRequest())
            numbers.append(received.messages[0].seq)
            receipt = Receipt(received.queue_key, numbers[-1], 1)
            assert await store.delete_messages(queue, [receipt]) == [Outcome.DONE]
        finally:
            await store.close()
    assert numbers[0] >= 2**48
    assert numbers[1] > numbers[0], "the newest message's number was not handed out again"
    conn = sqlite3.connect(path, isolation_level=None)
    after = conn.execute("SELECT seq, message_id, body FROM messages ORDER BY seq").fetchall()
    assert after == before == [(1, "m0", b"body 0"), (2, "m1", b"body 1")]
    columns = {row[1] for row in conn.execute("PRAGMA table_xinfo(subscriptions)")}
    assert not columns & {"sealed_queue_id", "sealed_dead_letter_id"}
    conn.close()
