"""SQS FIFO receive attempts and sequence numbers (:class:`ems.storage.sqs_fifo.SqsFifoStorage`),
for every driver.

The rules are :mod:`ems.core.attempt_rules`'s. A replay checks the attempt's messages and
starts their visibility timeout again in one transaction: on SQLite the one writer runs it whole;
on PostgreSQL it locks the attempt and its message rows first, so a receive on another node that
claimed one of them has committed (and changed its receive count) before they are checked, and
one that comes after finds them in flight again. The attempts are rows of the database, so a
retry sent to another node finds them too. The statements are in each driver's
``sql/sqs_fifo.sql``.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence

from ems.core.attempt_rules import decode, encode, unchanged
from ems.core.fifo import FifoSettings
from ems.core.models import ReceiveRequest, StoredMessage
from ems.storage.cipher import BodyCipher
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.roles.lookups import lookup_queue, queue_in
from ems.storage.rows import FifoMessageColumns, fifo_value, receive_times, stored_message


class SqsFifo(Driver):
    _cipher: BodyCipher | None

    @abstractmethod
    def _forget(self, *queue_keys: int) -> None:
        """Drop cached records of these queues (on every node)."""

    async def record_receive_attempt(
        self,
        queue_hash: bytes,
        attempt_hash: bytes,
        messages: Sequence[StoredMessage],
        window_ms: int,
    ) -> None:
        async def operation(txn: Transaction) -> None:
            key = (await queue_in(txn, queue_hash)).record.key
            await txn.db.run("sqs_fifo_forget_expired_attempts", txn.now_ms)
            await txn.db.run(
                "sqs_fifo_record_attempt",
                key, attempt_hash, encode(messages), txn.now_ms + window_ms,
            )  # fmt: skip

        await self._transact(operation)

    async def replay_receive_attempt(
        self, queue_hash: bytes, attempt_hash: bytes, visibility_timeout: int | None
    ) -> list[StoredMessage] | None:
        async def operation(txn: Transaction) -> list[StoredMessage] | None:
            db, now = txn.db, txn.now_ms
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            found = await db.value("sqs_fifo_find_attempt", key, attempt_hash, now)
            if found is None:
                return None
            recorded = decode(found)
            seqs = json.dumps([m.seq for m in recorded])
            rows = await db.rows("sqs_fifo_attempt_messages", queue.partition, seqs)
            current = {row.seq: row for row in map(FifoMessageColumns._make, rows)}
            states = {seq: (r.receive_count, r.visible_at) for seq, r in current.items()}
            if not unchanged(recorded, states, now):
                await db.run("sqs_fifo_forget_attempt", key, attempt_hash)
                return None
            request = ReceiveRequest(visibility_timeout=visibility_timeout)
            visible_at, _ = receive_times(queue.record.config, request, now)
            await db.run("sqs_fifo_reset_visibility", visible_at, seqs)
            replayed = [
                stored_message(
                    current[m.seq], visible_at, self._cipher, group_id=current[m.seq].group_id
                )
                for m in recorded
            ]
            await db.run("sqs_fifo_update_attempt", encode(replayed), key, attempt_hash)
            return replayed

        return await self._transact(operation)

    async def sequence_numbers(
        self, queue_hash: bytes, sent: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        async def query(db: Statements) -> list[int | None]:
            partition = (await lookup_queue(db, queue_hash)).partition
            return [
                await db.value("sqs_fifo_sequence_number", partition, group_id, message_id)
                for group_id, message_id in sent
            ]

        return await self._query(query)

    async def set_fifo_settings(self, queue_hash: bytes, settings: FifoSettings) -> None:
        async def operation(txn: Transaction) -> None:
            key = (await queue_in(txn, queue_hash)).record.key
            await txn.db.run("sqs_fifo_set_settings", fifo_value(settings), key)
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))

        await self._transact(operation)
