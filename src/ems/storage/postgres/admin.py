"""What operators see in the PostgreSQL store: queues and topics by key, the deepest queues,
the console's sorted and filtered queue pages, database-wide totals (every node's work, and which
database server this node talks to), and "retry now" for webhooks."""

from __future__ import annotations

from typing import Any, Final

from ems.core.errors import SubscriptionNotFound
from ems.core.models import QueueOrder, QueuePage, QueueSummary, StoreTotals, TopicSummary
from ems.storage.postgres.base import Conn, PostgresBase, lookup_topic, topic_in
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q

# the sort orders are fixed strings: nothing a client sends is ever put into SQL text
_ORDERS: Final = {
    QueueOrder.CREATED: "q.key {d}",
    QueueOrder.LABEL: "q.label {d} NULLS LAST, q.key",
    QueueOrder.MESSAGES: "q.stored_messages {d}, q.key",
    QueueOrder.BYTES: "q.stored_bytes {d}, q.key",
}
_MATCHING: Final = """
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE ($1::text IS NULL AND $2::bytea IS NULL) OR position($1::text in lower(q.label)) > 0
   OR substring(q.id_hash from 1 for length($2::bytea)) = $2::bytea"""
_PAGE: Final = (
    "SELECT q.key, q.id_hash, q.created_at, q.owner, q.stored_messages, q.stored_bytes, "
    "q.partition, q.label, d.id_hash" + _MATCHING + " ORDER BY {order} LIMIT $3 OFFSET $4"
)


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

    async def admin_queue_page(self, page: QueuePage) -> tuple[int, list[QueueSummary]]:
        order = _ORDERS[page.order].format(d="DESC" if page.descending else "ASC")
        sql = _PAGE.format(order=order)

        async def query(conn: Conn) -> tuple[int, list[QueueSummary]]:
            matching = (page.text, page.hash_prefix)
            total = await conn.fetchval("SELECT count(*)" + _MATCHING, *matching)
            rows = await conn.fetch(sql, *matching, page.limit, page.offset)
            return total, [
                await _summary(conn, *row[:7], label=row[7], dead_letter_hash=row[8])
                for row in rows
            ]

        return await self._read(query)

    async def admin_totals(self) -> StoreTotals:
        async def query(conn: Conn) -> StoreTotals:
            totals: Any = await conn.fetchrow(Q["admin_totals"])
            (queues, messages, stored_bytes, topics, subscriptions, pending, backlog,
             failing) = totals  # fmt: skip
            oldest = await conn.fetchval(Q["admin_oldest_sent_at"])
            server: Any = await conn.fetchrow(Q["admin_database"])
            size, address, port, database, standby = server
            where = f"{address}:{port}" if address else "a Unix socket"
            role = "standby" if standby else "primary"
            return StoreTotals(
                queues=queues,
                topics=topics,
                subscriptions=subscriptions,
                pending_confirmations=pending,
                stored_messages=int(messages),
                stored_bytes=int(stored_bytes),
                oldest_sent_at_ms=oldest,
                webhook_backlog=backlog,
                failing_subscriptions=failing,
                storage_bytes=size,
                location=f"PostgreSQL at {where}, database {database} ({role})",
            )

        return await self._read(query)

    async def next_attempts(self, topic_hash: bytes) -> dict[int, int]:
        async def query(conn: Conn) -> dict[int, int]:
            key = (await lookup_topic(conn, topic_hash)).key
            rows = await conn.fetch(Q["admin_next_attempts"], key)
            return {row[0]: row[1] for row in rows}

        return await self._read(query)

    async def retry_now(self, topic_hash: bytes, subscription_id: str) -> int:
        async def operation(txn: Txn) -> int:
            topic = await topic_in(txn, topic_hash)
            key = await txn.conn.fetchval(
                Q["subscription_key_in_topic"], topic.key, subscription_id
            )
            if key is None:
                raise SubscriptionNotFound()
            status = await txn.conn.execute(Q["admin_retry_now"], txn.now_ms, key)
            txn.after_commit(lambda: self._deliveries_ready([key]))
            return int(status.rsplit(" ", 1)[-1])

        return await self._write(operation)

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
    *,
    label: str | None = None,
    dead_letter_hash: bytes | None = None,
) -> QueueSummary:
    oldest: Any = await conn.fetchval(Q["oldest_sent_at"], partition)
    return QueueSummary(
        key, id_hash, created_at or 0, owner, stored, size, oldest, label, dead_letter_hash
    )
