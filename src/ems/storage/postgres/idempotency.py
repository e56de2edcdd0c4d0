"""Idempotent sends and publishes in the PostgreSQL store: claim the keys, store what is new, in
one savepoint.

The rules are :mod:`ems.core.idempotency`'s; this module only runs its statements. The claim is
one ``INSERT ... ON CONFLICT``: when two nodes send with the same key at once, the second waits
on the first's row and, once that commits, finds the key taken, so the table's primary key (not
any node's memory) decides which send was first. The queue's (or topic's) row is locked before
the keys, so that two nodes' batches claiming the same keys in different orders queue up behind
each other instead of deadlocking. A send whose messages cannot be stored raises, so that its
savepoint takes the claimed keys back with it. A topic's keys are kept under its negated key.
"""

from __future__ import annotations

from ems.core.errors import QueueNotFound, TopicNotFound
from ems.core.idempotency import KeyedSend, plan, repeated
from ems.core.topic_models import PublishResult, TopicMessage
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.messages import MessageOperations
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.postgres.topics import TopicOperations
from ems.storage.roles.lookups import queue_in, topic_in


class IdempotencyOperations(MessageOperations, TopicOperations):
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        async def operation(txn: Txn) -> list[str | None]:
            queue = await queue_in(txn, queue_hash)
            if await txn.conn.fetchval(Q["lock_queue_for_keys"], queue.record.key) is None:
                raise QueueNotFound()
            first = send.first_by_key()
            claimed, remembered = await _claim(txn, queue.record.key, first, window_ms)
            fresh, duplicates = plan(send, claimed, remembered)
            if fresh:
                (error,) = await self._append(txn, [(queue, fresh)])
                if error is not None:
                    raise error
            return duplicates

        return await self._write(operation)

    async def publish_idempotent(
        self, topic_hash: bytes, message: TopicMessage, key_hash: bytes, window_ms: int
    ) -> PublishResult:
        async def operation(txn: Txn) -> PublishResult:
            topic = await topic_in(txn, topic_hash)
            if await txn.conn.fetchval(Q["lock_topic_for_keys"], topic.key) is None:
                raise TopicNotFound()
            first = {key_hash: message.message_id}
            claimed, remembered = await _claim(txn, -topic.key, first, window_ms)
            if not claimed:
                return PublishResult(0, 0, duplicate_of=repeated(key_hash, remembered))
            return await self._publish(txn, topic_hash, message)

        return await self._write(operation)


async def _claim(
    txn: Txn, owner: int, first: dict[bytes, str], window_ms: int
) -> tuple[set[bytes], dict[bytes, str]]:
    """Record the keys not live yet; the keys claimed, and the message ids of the others."""
    now = txn.now_ms
    rows = await txn.conn.fetch(
        Q["claim_idempotency_keys"], owner, list(first), list(first.values()), now + window_ms, now
    )
    claimed = {bytes(row[0]) for row in rows}
    remembered: dict[bytes, str] = {}
    if len(claimed) < len(first):
        taken = [key for key in first if key not in claimed]
        for row in await txn.conn.fetch(Q["remembered_idempotency_keys"], owner, taken):
            remembered[bytes(row[0])] = row[1]
    return claimed, remembered
