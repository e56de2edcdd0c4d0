"""The SQLite driver's :class:`~ems.storage.engine.statements.Statements`: synchronous calls
behind coroutines that never wait."""

from __future__ import annotations

import sqlite3
from typing import Any

from ems.storage.engine.statements import Row
from ems.storage.sqlite.queries import QUERIES as Q


class SqliteStatements:
    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def row(self, name: str, *args: Any) -> Row | None:
        row: Row | None = self.conn.execute(Q[name], args).fetchone()
        return row

    async def rows(self, name: str, *args: Any) -> list[Row]:
        return self.conn.execute(Q[name], args).fetchall()

    async def value(self, name: str, *args: Any) -> Any:
        row = self.conn.execute(Q[name], args).fetchone()
        return None if row is None else row[0]

    async def run(self, name: str, *args: Any) -> int:
        return self.conn.execute(Q[name], args).rowcount

    async def query(self, sql: str, *args: Any) -> list[Row]:
        return self.conn.execute(sql, args).fetchall()
