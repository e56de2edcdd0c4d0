"""What operators see in the SQLite store: queues and topics by hash, and the deepest queues."""

from __future__ import annotations

import sqlite3

from ems.core.models import QueueSummary, TopicSummary
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q


class AdminOperations(SqliteBase):
    async def list_queues(self, *, after: int, limit: int) -> list[QueueSummary]:
        return await self._read(lambda conn: self._summaries(conn, Q["admin_queues"], after, limit))

    async def deepest_queues(self, limit: int) -> list[QueueSummary]:
        def query(conn: sqlite3.Connection) -> list[QueueSummary]:
            return [
                _summary(conn, key, id_hash, None, None, stored, size, partition)
                for key, id_hash, stored, size, partition in conn.execute(
                    Q["deepest_queues"], (limit,)
                )
            ]

        return await self._read(query)

    @staticmethod
    def _summaries(
        conn: sqlite3.Connection, sql: str, after: int, limit: int
    ) -> list[QueueSummary]:
        return [
            _summary(conn, key, id_hash, created_at, owner, stored, size, partition)
            for key, id_hash, created_at, owner, stored, size, partition in conn.execute(
                sql, (after, limit)
            )
        ]

    async def list_topics(self, *, after: int, limit: int) -> list[TopicSummary]:
        def query(conn: sqlite3.Connection) -> list[TopicSummary]:
            return [
                TopicSummary(key, id_hash, created_at, owner, subscriptions)
                for key, id_hash, created_at, owner, subscriptions in conn.execute(
                    Q["admin_topics"], (after, limit)
                )
            ]

        return await self._read(query)


def _summary(  # noqa: PLR0917 - one row's columns, in order
    conn: sqlite3.Connection,
    key: int,
    id_hash: bytes,
    created_at: int | None,
    owner: str | None,
    stored: int,
    size: int,
    partition: int,
) -> QueueSummary:
    oldest = conn.execute(Q["oldest_sent_at"], (partition,)).fetchone()
    return QueueSummary(
        key, id_hash, created_at or 0, owner, stored, size, oldest[0] if oldest else None
    )
