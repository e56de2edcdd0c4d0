"""What operators see in the PostgreSQL store: queues and topics by key, the deepest queues."""

from __future__ import annotations

from typing import Any

from ems.core.models import QueueSummary, TopicSummary
from ems.storage.postgres.base import Conn, PostgresBase
from ems.storage.postgres.queries import QUERIES as Q


class AdminOperations(PostgresBase):
    async def list_queues(self, *, after: int, limit: int) -> list[QueueSummary]:
        async def query(conn: Conn) -> list[QueueSummary]:
            rows = await conn.fetch(Q["admin_queues"], after, limit)
            return [await _summary(conn, *row) for row in rows]

        return await self._read(query)

    async def deepest_queues(self, limit: int) -> list[QueueSummary]:
        async def query(conn: Conn) -> list[QueueSummary]:
            rows = await conn.fetch(Q["deepest_queues"], limit)
            return [
                await _summary(conn, key, id_hash, None, None, stored, size, partition)
                for key, id_hash, stored, size, partition in rows
            ]

        return await self._read(query)

    async def list_topics(self, *, after: int, limit: int) -> list[TopicSummary]:
        async def query(conn: Conn) -> list[TopicSummary]:
            rows = await conn.fetch(Q["admin_topics"], after, limit)
            return [TopicSummary(*row) for row in rows]

        return await self._read(query)


async def _summary(  # noqa: PLR0917 - one row's columns, in order
    conn: Conn,
    key: int,
    id_hash: bytes,
    created_at: int | None,
    owner: str | None,
    stored: int,
    size: int,
    partition: int,
) -> QueueSummary:
    oldest: Any = await conn.fetchval(Q["oldest_sent_at"], partition)
    return QueueSummary(key, id_hash, created_at or 0, owner, stored, size, oldest)
