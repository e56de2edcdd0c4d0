"""Idempotent sends and publishes in the SQLite store: claim the keys, store what is new, in one
savepoint.

The rules are :mod:`ems.core.idempotency`'s; this module only runs its statements. A send whose
messages cannot be stored (queue full, gone) raises, so that its savepoint takes the claimed keys
back with it: a key is remembered exactly when its message was stored. A topic's keys are kept
under its negated key (see the table's schema).
"""

from __future__ import annotations

import sqlite3

from ems.core.idempotency import KeyedSend, plan, repeated
from ems.core.topic_models import PublishResult, TopicMessage
from ems.storage.sqlite.lookups import queue_in, topic_in
from ems.storage.sqlite.messages import MessageOperations
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.topics import TopicOperations
from ems.storage.sqlite.writer import Txn


class IdempotencyOperations(MessageOperations, TopicOperations):
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        if self.health.outage is not None:
            self.health.check_room()
        return await self._write(lambda txn: self._send_keyed(txn, queue_hash, send, window_ms))

    def _send_keyed(
        self, txn: Txn, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        owner = queue_in(txn, queue_hash).record.key
        claimed, remembered = _claim(txn, owner, send.first_by_key(), window_ms)
        fresh, duplicates = plan(send, claimed, remembered)
        if fresh:
            (error,) = self._append(txn, [(queue_hash, fresh)])
            if error is not None:
                raise error
        return duplicates

    async def publish_idempotent(
        self, topic_hash: bytes, message: TopicMessage, key_hash: bytes, window_ms: int
    ) -> PublishResult:
        def operation(txn: Txn) -> PublishResult:
            owner = -topic_in(txn, topic_hash).key
            claimed, remembered = _claim(txn, owner, {key_hash: message.message_id}, window_ms)
            if not claimed:
                return PublishResult(0, 0, duplicate_of=repeated(key_hash, remembered))
            return self._publish(txn, topic_hash, message)

        self.health.check_room()
        return await self._write(operation)


def _claim(
    txn: Txn, owner: int, first: dict[bytes, str], window_ms: int
) -> tuple[set[bytes], dict[bytes, str]]:
    """Record the keys not live yet; the keys claimed, and the message ids of the others."""
    conn: sqlite3.Connection = txn.conn
    now = txn.now_ms
    claimed: set[bytes] = set()
    remembered: dict[bytes, str] = {}
    for key_hash, message_id in first.items():
        row = conn.execute(
            Q["claim_idempotency_key"], (owner, key_hash, message_id, now + window_ms, now)
        ).fetchone()
        if row is not None:
            claimed.add(key_hash)
            continue
        found = conn.execute(Q["remembered_idempotency_key"], (owner, key_hash)).fetchone()
        if found is not None:
            remembered[key_hash] = found[0]
    return claimed, remembered
