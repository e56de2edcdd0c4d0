"""Idempotent sends in the PostgreSQL store: claim the keys, store what is new, in one savepoint.

The rules are :mod:`ems.core.idempotency`'s; this module only runs its statements. The claim is
one ``INSERT ... ON CONFLICT``: when two nodes send with the same key at once, the second waits
on the first's row and, once that commits, finds the key taken, so the table's primary key (not
any node's memory) decides which send was first. The queue's row is locked before the keys, so
that two nodes' batches claiming the same keys in different orders queue up behind each other
instead of deadlocking. A send whose messages cannot be stored raises,
so that its savepoint takes the claimed keys back with it.
"""

from __future__ import annotations

from ems.core.errors import QueueNotFound
from ems.core.idempotency import KeyedSend, plan
from ems.storage.postgres.base import queue_in
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.messages import MessageOperations
from ems.storage.postgres.queries import QUERIES as Q


class IdempotencyOperations(MessageOperations):
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        async def operation(txn: Txn) -> list[str | None]:
            conn, now = txn.conn, txn.now_ms
            queue = await queue_in(txn, queue_hash)
            first = send.first_by_key()
            if await conn.fetchval(Q["lock_queue_for_keys"], queue.record.key) is None:
                raise QueueNotFound()
            rows = await conn.fetch(
                Q["claim_idempotency_keys"],
                queue.record.key,
                list(first),
                list(first.values()),
                now + window_ms,
                now,
            )
            claimed = {bytes(row[0]) for row in rows}
            remembered: dict[bytes, str] = {}
            if len(claimed) < len(first):
                taken = [key for key in first if key not in claimed]
                for row in await conn.fetch(
                    Q["remembered_idempotency_keys"], queue.record.key, taken
                ):
                    remembered[bytes(row[0])] = row[1]
            fresh, duplicates = plan(send, claimed, remembered)
            if fresh:
                (error,) = await self._append(txn, [(queue, fresh)])
                if error is not None:
                    raise error
            return duplicates

        return await self._write(operation)
