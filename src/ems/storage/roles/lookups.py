"""Finding a queue or a topic, for every driver: by id hash or key, once per batch (the batch's
memo), raising QueueNotFound or TopicNotFound."""

from __future__ import annotations

from ems.core.errors import QueueNotFound, TopicNotFound
from ems.core.topic_models import TopicRecord
from ems.storage.engine.statements import Statements, Transaction
from ems.storage.rows import QueueRow, queue_from_row
from ems.storage.topic_rows import topic_record


async def lookup_queue(db: Statements, queue_hash: bytes) -> QueueRow:
    row = await db.row("queue_by_hash", queue_hash)
    if row is None:
        raise QueueNotFound()
    return queue_from_row(tuple(row))


async def queue_in(txn: Transaction, queue_hash: bytes) -> QueueRow:
    """A queue as this batch sees it, looked up once per batch (found queues only)."""
    queue: QueueRow | None = txn.memo.get(queue_hash)
    if queue is None:
        queue = txn.memo[queue_hash] = await lookup_queue(txn.db, queue_hash)
    return queue


async def queue_by_key(txn: Transaction, queue_key: int) -> QueueRow | None:
    """A queue by its internal key, as this batch sees it; None if it was deleted."""
    memo_key = ("queue-key", queue_key)
    queue: QueueRow | None = txn.memo.get(memo_key)
    if queue is None:
        row = await txn.db.row("queue_by_key", queue_key)
        if row is None:
            return None
        queue = txn.memo[memo_key] = queue_from_row(tuple(row))
    return queue


async def lookup_topic(db: Statements, topic_hash: bytes) -> TopicRecord:
    row = await db.row("topic_by_hash", topic_hash)
    if row is None:
        raise TopicNotFound()
    return topic_record(row)


async def topic_in(txn: Transaction, topic_hash: bytes) -> TopicRecord:
    """A topic as this batch sees it, looked up once per batch (found topics only)."""
    memo_key = ("topic", topic_hash)
    topic: TopicRecord | None = txn.memo.get(memo_key)
    if topic is None:
        topic = txn.memo[memo_key] = await lookup_topic(txn.db, topic_hash)
    return topic
