"""Idempotent sends in the SQLite store: claim the keys, store what is new, in one savepoint.

The rules are :mod:`ems.core.idempotency`'s; this module only runs its statements. A send whose
messages cannot be stored (queue full, gone) raises, so that its savepoint takes the claimed keys
back with it: a key is remembered exactly when its message was stored.
"""

from __future__ import annotations

from ems.core.idempotency import KeyedSend, plan
from ems.storage.sqlite.base import queue_in
from ems.storage.sqlite.messages import MessageOperations
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class IdempotencyOperations(MessageOperations):
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        if self.health.outage is not None:
            self.health.check_room()
        return await self._write(lambda txn: self._send_keyed(txn, queue_hash, send, window_ms))

    def _send_keyed(
        self, txn: Txn, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        conn, now = txn.conn, txn.now_ms
        key = queue_in(txn, queue_hash).record.key
        claimed: set[bytes] = set()
        remembered: dict[bytes, str] = {}
        for key_hash, message_id in send.first_by_key().items():
            row = conn.execute(
                Q["claim_idempotency_key"], (key, key_hash, message_id, now + window_ms, now)
            ).fetchone()
            if row is not None:
                claimed.add(key_hash)
                continue
            found = conn.execute(Q["remembered_idempotency_key"], (key, key_hash)).fetchone()
            if found is not None:
                remembered[key_hash] = found[0]
        fresh, duplicates = plan(send, claimed, remembered)
        if fresh:
            (error,) = self._append(txn, [(queue_hash, fresh)])
            if error is not None:
                raise error
        return duplicates
