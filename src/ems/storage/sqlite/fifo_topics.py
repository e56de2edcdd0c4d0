"""The FIFO part of a topic's fan-out in the SQLite store (rules: :mod:`ems.core.fifo_topics`).

A copy for a FIFO queue carries the publish's group, and its deduplication id is claimed in the
queue's own idempotency keys in the publish's transaction, so a queue that already holds that id
within its window stores the copy no second time.
"""

from __future__ import annotations

from ems.core.fifo_topics import copy_key
from ems.core.models import NewMessage
from ems.core.topic_models import TopicMessage
from ems.storage.rows import QueueRow
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn

# the copy to store and the key claimed for it; or, when it is not stored, how many subscribed
# queues to count as skipped: 0 when the queue holds the copy already, 1 when it cannot take it
# (the failure recorded on its subscription)
FifoCopy = tuple[NewMessage, bytes] | int


MISMATCH = "a FIFO queue takes messages of FIFO topics only, and a FIFO topic FIFO queues"


class FifoFanout(SqliteBase):
    def _fifo_copy(
        self, txn: Txn, subscription: int, queue: QueueRow, message: TopicMessage, copy: NewMessage
    ) -> FifoCopy:
        settings = queue.record.config.fifo
        if settings is None or message.group_id is None or message.deduplication_id is None:
            # only a subscription made before FIFO topics existed can pair them so
            txn.conn.execute(Q["queue_subscription_failed"], (txn.now_ms, MISMATCH, subscription))
            return 1
        key = copy_key(settings, message.group_id, message.deduplication_id)
        window = queue.record.config.deduplication_window_seconds * 1000
        claimed = txn.conn.execute(
            Q["claim_idempotency_key"],
            (queue.record.key, key, message.message_id, txn.now_ms + window, txn.now_ms),
        ).fetchone()
        if claimed is None:
            return 0
        return copy._replace(group_id=message.group_id), key

    @staticmethod
    def _unclaim(txn: Txn, queue: QueueRow, key: bytes) -> None:
        """Take back a copy's key when the queue could not store the copy after all."""
        txn.conn.execute(Q["drop_idempotency_key"], (queue.record.key, key))
