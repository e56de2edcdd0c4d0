"""What operators see, for every driver: queues and topics by key, the deepest queues, the
console's sorted and filtered queue pages, database-wide totals, and "retry now" for webhooks.

Two parts are the driver's: the dialect of the queue page's matching (built from fixed strings:
nothing a client sends is ever put into SQL text) and where the data is
(:meth:`AdminViews._whereabouts`: its size and a description for the operator).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, Final, NamedTuple

from ems.core.errors import SubscriptionNotFound
from ems.core.models import QueueOrder, QueuePage, QueueSummary, StoreTotals, TopicSummary
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.roles.lookups import lookup_topic, topic_in

# the sort orders are fixed strings: nothing a client sends is ever put into SQL text
_ORDERS: Final = {
    QueueOrder.CREATED: "q.key {d}",
    QueueOrder.LABEL: "q.label {d} NULLS LAST, q.key",
    QueueOrder.MESSAGES: "q.stored_messages {d}, q.key",
    QueueOrder.BYTES: "q.stored_bytes {d}, q.key",
}


class AdminViews(Driver):
    @abstractmethod
    def _deliveries_ready(self, subscription_keys: Iterable[int]) -> None: ...

    # the driver's dialect: FROM and WHERE of the queues matching a page's text (parameter 1)
    # and id hash prefix (2); the page's LIMIT (3) and OFFSET (4)
    _QUEUES_MATCHING: ClassVar[str]
    _LIMIT_OFFSET: ClassVar[str]

    def _page_sql(self, page: QueuePage) -> tuple[str, str]:
        """(count the matching queues, one sorted page of them)."""
        order = _ORDERS[page.order].format(d="DESC" if page.descending else "ASC")
        return "SELECT count(*)" + self._QUEUES_MATCHING, (
            "SELECT q.key, q.id_hash, q.created_at, q.owner, q.stored_messages, "
            "q.stored_bytes, q.partition, q.label, d.id_hash"
            f"{self._QUEUES_MATCHING} ORDER BY {order} {self._LIMIT_OFFSET}"
        )

    @abstractmethod
    async def _whereabouts(self, db: Statements) -> tuple[int, str]:
        """How many bytes the database takes, and where it is, in words."""

    async def list_queues(self, *, after: int, limit: int) -> list[QueueSummary]:
        async def query(db: Statements) -> list[QueueSummary]:
            rows = await db.rows("admin_queues", after, limit)
            return [
                await _summary(
                    db, key=q.key, id_hash=q.id_hash, created_at=q.created_at, owner=q.owner,
                    stored=q.stored_messages, size=q.stored_bytes, partition=q.partition,
                )
                for q in map(QueueListColumns._make, rows)
            ]  # fmt: skip

        return await self._query(query)

    async def deepest_queues(self, limit: int) -> list[QueueSummary]:
        async def query(db: Statements) -> list[QueueSummary]:
            rows = await db.rows("deepest_queues", limit)
            return [
                await _summary(
                    db, key=q.key, id_hash=q.id_hash, created_at=None, owner=None,
                    stored=q.stored_messages, size=q.stored_bytes, partition=q.partition,
                )
                for q in map(DeepQueueColumns._make, rows)
            ]  # fmt: skip

        return await self._query(query)

    async def admin_queue_page(self, page: QueuePage) -> tuple[int, list[QueueSummary]]:
        count_sql, page_sql = self._page_sql(page)

        async def query(db: Statements) -> tuple[int, list[QueueSummary]]:
            matching = (page.text, page.hash_prefix)
            total = (await db.query(count_sql, *matching))[0][0]
            rows = await db.query(page_sql, *matching, page.limit, page.offset)
            pages = map(QueuePageColumns._make, rows)
            return total, [
                await _summary(
                    db, key=q.key, id_hash=q.id_hash, created_at=q.created_at, owner=q.owner,
                    stored=q.stored_messages, size=q.stored_bytes, partition=q.partition,
                    label=q.label, dead_letter_hash=q.dead_letter_hash,
                )
                for q in pages
            ]  # fmt: skip

        return await self._query(query)

    async def admin_totals(self) -> StoreTotals:
        async def query(db: Statements) -> StoreTotals:
            found = await db.row("admin_totals")
            assert found is not None  # an aggregate: always one row
            totals = TotalsColumns._make(found)
            oldest = await db.value("admin_oldest_sent_at")
            size, location = await self._whereabouts(db)
            return StoreTotals(
                queues=totals.queues,
                topics=totals.topics,
                subscriptions=totals.subscriptions,
                pending_confirmations=totals.pending_confirmations,
                stored_messages=int(totals.stored_messages),
                stored_bytes=int(totals.stored_bytes),
                oldest_sent_at_ms=oldest,
                webhook_backlog=totals.webhook_backlog,
                failing_subscriptions=totals.failing_subscriptions,
                storage_bytes=size,
                location=location,
            )

        return await self._query(query)

    async def next_attempts(self, topic_hash: bytes) -> dict[int, int]:
        async def query(db: Statements) -> dict[int, int]:
            key = (await lookup_topic(db, topic_hash)).key
            return {row[0]: row[1] for row in await db.rows("admin_next_attempts", key)}

        return await self._query(query)

    async def retry_now(self, topic_hash: bytes, subscription_id: str) -> int:
        async def operation(txn: Transaction) -> int:
            topic = await topic_in(txn, topic_hash)
            key = await txn.db.value("subscription_key_in_topic", topic.key, subscription_id)
            if key is None:
                raise SubscriptionNotFound()
            moved = await txn.db.run("admin_retry_now", txn.now_ms, key)
            txn.after_commit(lambda: self._deliveries_ready([key]))
            return moved

        return await self._transact(operation)

    async def list_topics(self, *, after: int, limit: int) -> list[TopicSummary]:
        async def query(db: Statements) -> list[TopicSummary]:
            rows = await db.rows("admin_topics", after, limit)
            return [
                TopicSummary(
                    key=t.key, id_hash=t.id_hash, created_at_ms=t.created_at, owner=t.owner,
                    subscriptions=t.subscriptions, webhook_backlog=t.webhook_backlog,
                    failing_subscriptions=t.failing_subscriptions,
                )
                for t in map(TopicListColumns._make, rows)
            ]  # fmt: skip

        return await self._query(query)


class QueueListColumns(NamedTuple):
    """An ``admin_queues`` row by name."""

    key: int
    id_hash: bytes
    created_at: int | None
    owner: str | None
    stored_messages: int
    stored_bytes: int
    partition: int


class DeepQueueColumns(NamedTuple):
    """A ``deepest_queues`` row by name."""

    key: int
    id_hash: bytes
    stored_messages: int
    stored_bytes: int
    partition: int


class TopicListColumns(NamedTuple):
    """An ``admin_topics`` row by name."""

    key: int
    id_hash: bytes
    created_at: int
    owner: str | None
    subscriptions: int
    webhook_backlog: int
    failing_subscriptions: int


class QueuePageColumns(NamedTuple):
    """A row of an admin queue page (:meth:`AdminViews._page_sql`) by name."""

    key: int
    id_hash: bytes
    created_at: int | None
    owner: str | None
    stored_messages: int
    stored_bytes: int
    partition: int
    label: str | None
    dead_letter_hash: bytes | None


class TotalsColumns(NamedTuple):
    """The ``admin_totals`` row by name (the sums are numeric on PostgreSQL)."""

    queues: int
    stored_messages: Any
    stored_bytes: Any
    topics: int
    subscriptions: int
    pending_confirmations: int
    webhook_backlog: int
    failing_subscriptions: int


async def _summary(
    db: Statements,
    *,
    key: int,
    id_hash: bytes,
    created_at: int | None,
    owner: str | None,
    stored: int,
    size: int,
    partition: int,
    label: str | None = None,
    dead_letter_hash: bytes | None = None,
) -> QueueSummary:
    oldest = await db.value("oldest_sent_at", partition)
    return QueueSummary(
        key, id_hash, created_at or 0, owner, stored, size, oldest, label, dead_letter_hash
    )
