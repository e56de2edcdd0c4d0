"""Finding a queue or a topic in the SQLite store, synchronously, for its hot paths (which run
inside the group commit on the event loop); the shared operations use
:mod:`ems.storage.roles.lookups`."""

from __future__ import annotations

import sqlite3

from ems.core.errors import QueueNotFound, TopicNotFound
from ems.core.topic_models import TopicRecord
from ems.storage.rows import QueueRow, queue_from_row
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn
from ems.storage.topic_rows import topic_record


def queue_in(txn: Txn, queue_hash: bytes) -> QueueRow:
    """A queue as this batch sees it, looked up once per batch (found queues only)."""
    queue: QueueRow | None = txn.memo.get(queue_hash)
    if queue is None:
        queue = txn.memo[queue_hash] = lookup_queue(txn.conn, queue_hash)
    return queue


def queue_by_key(txn: Txn, queue_key: int) -> QueueRow | None:
    """A queue by its internal key, as this batch sees it; None if it was deleted."""
    memo_key = ("queue-key", queue_key)
    queue: QueueRow | None = txn.memo.get(memo_key)
    if queue is None:
        row = txn.conn.execute(Q["queue_by_key"], (queue_key,)).fetchone()
        if row is None:
            return None
        queue = txn.memo[memo_key] = queue_from_row(row)
    return queue


def lookup_topic(conn: sqlite3.Connection, topic_hash: bytes) -> TopicRecord:
    row = conn.execute(Q["topic_by_hash"], (topic_hash,)).fetchone()
    if row is None:
        raise TopicNotFound()
    return topic_record(row)


def topic_in(txn: Txn, topic_hash: bytes) -> TopicRecord:
    memo_key = ("topic", topic_hash)
    topic: TopicRecord | None = txn.memo.get(memo_key)
    if topic is None:
        topic = txn.memo[memo_key] = lookup_topic(txn.conn, topic_hash)
    return topic


def lookup_queue(conn: sqlite3.Connection, queue_hash: bytes) -> QueueRow:
    row = conn.execute(Q["queue_by_hash"], (queue_hash,)).fetchone()
    if row is None:
        raise QueueNotFound()
    return queue_from_row(row)
