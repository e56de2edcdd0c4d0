"""What operators see in the SQLite store: queues and topics by hash, the deepest queues, the
console's sorted and filtered queue pages, database-wide totals, and "retry now" for webhooks."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Final

from ems.core.errors import SubscriptionNotFound
from ems.core.models import QueueOrder, QueuePage, QueueSummary, StoreTotals, TopicSummary
from ems.storage.sqlite.base import SqliteBase, lookup_topic, topic_in
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn

# the sort orders are fixed strings: nothing a client sends is ever put into SQL text
_ORDERS: Final = {
    QueueOrder.CREATED: "q.key {d}",
    QueueOrder.LABEL: "q.label {d} NULLS LAST, q.key",
    QueueOrder.MESSAGES: "q.stored_messages {d}, q.key",
    QueueOrder.BYTES: "q.stored_bytes {d}, q.key",
}
_MATCHING: Final = """
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE (?1 IS NULL AND ?2 IS NULL) OR instr(lower(q.label), ?1) > 0
   OR substr(q.id_hash, 1, length(?2)) = ?2"""
_PAGE: Final = (
    "SELECT q.key, q.id_hash, q.created_at, q.owner, q.stored_messages, q.stored_bytes, "
    "q.partition, q.label, d.id_hash" + _MATCHING + " ORDER BY {order} LIMIT ?3 OFFSET ?4"
)


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

    async def admin_queue_page(self, page: QueuePage) -> tuple[int, list[QueueSummary]]:
        order = _ORDERS[page.order].format(d="DESC" if page.descending else "ASC")
        sql = _PAGE.format(order=order)

        def query(conn: sqlite3.Connection) -> tuple[int, list[QueueSummary]]:
            matching = (page.text, page.hash_prefix)
            (total,) = conn.execute("SELECT count(*)" + _MATCHING, matching).fetchone()
            rows = conn.execute(sql, (*matching, page.limit, page.offset)).fetchall()
            return total, [
                _summary(conn, *row[:7], label=row[7], dead_letter_hash=row[8]) for row in rows
            ]

        return await self._read(query)

    async def admin_totals(self) -> StoreTotals:
        def query(conn: sqlite3.Connection) -> StoreTotals:
            (queues, messages, stored_bytes, topics, subscriptions, pending, backlog,
             failing) = conn.execute(Q["admin_totals"]).fetchone()  # fmt: skip
            oldest = conn.execute(Q["admin_oldest_sent_at"]).fetchone()
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
            (page_size,) = conn.execute("PRAGMA page_size").fetchone()
            wal = _size(self.path.with_name(self.path.name + "-wal"))
            return StoreTotals(
                queues=queues,
                topics=topics,
                subscriptions=subscriptions,
                pending_confirmations=pending,
                stored_messages=messages,
                stored_bytes=stored_bytes,
                oldest_sent_at_ms=oldest[0] if oldest else None,
                webhook_backlog=backlog,
                failing_subscriptions=failing,
                storage_bytes=pages * page_size + wal,
                location=str(self.path),
            )

        return await self._read(query)

    async def next_attempts(self, topic_hash: bytes) -> dict[int, int]:
        def query(conn: sqlite3.Connection) -> dict[int, int]:
            key = lookup_topic(conn, topic_hash).key
            return dict(conn.execute(Q["admin_next_attempts"], (key,)).fetchall())

        return await self._read(query)

    async def retry_now(self, topic_hash: bytes, subscription_id: str) -> int:
        def operation(txn: Txn) -> int:
            topic = topic_in(txn, topic_hash)
            found = txn.conn.execute(
                Q["subscription_key_in_topic"], (topic.key, subscription_id)
            ).fetchone()
            if found is None:
                raise SubscriptionNotFound()
            key = found[0]
            moved = txn.conn.execute(Q["admin_retry_now"], (txn.now_ms, key)).rowcount
            txn.after_commit(lambda: self.deliveries_ready([key]))
            return moved

        return await self._write(operation)

    async def list_topics(self, *, after: int, limit: int) -> list[TopicSummary]:
        def query(conn: sqlite3.Connection) -> list[TopicSummary]:
            return [TopicSummary(*row) for row in conn.execute(Q["admin_topics"], (after, limit))]

        return await self._read(query)


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _summary(  # noqa: PLR0917 - one row's columns, in order
    conn: sqlite3.Connection,
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
    oldest = conn.execute(Q["oldest_sent_at"], (partition,)).fetchone()
    return QueueSummary(
        key,
        id_hash,
        created_at or 0,
        owner,
        stored,
        size,
        oldest[0] if oldest else None,
        label,
        dead_letter_hash,
    )
