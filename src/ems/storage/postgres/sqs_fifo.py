"""SQS FIFO receive attempts and sequence numbers in the PostgreSQL store.

The rules are :mod:`ems.core.receive_attempts`'s. The attempts are rows of the database, so a
retry sent to another node finds them. A replay locks the attempt's message rows
(``FOR UPDATE``) before it checks them: a receive on another node that claimed one of them first
has committed by then and changed its receive count, and one that comes after finds it in flight
again. The statements are kept here, apart from ``queries.sql``: they serve the SQS API alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ems.core.models import ReceiveRequest, StoredMessage
from ems.core.receive_attempts import decode, encode, unchanged
from ems.storage.postgres.base import Conn, PostgresBase, lookup_queue, queue_in
from ems.storage.postgres.batcher import Txn
from ems.storage.rows import receive_times, stored_message

_FORGET_EXPIRED: Final = "DELETE FROM sqs_receive_attempts WHERE expires_at <= $1"
_RECORD: Final = """
INSERT INTO sqs_receive_attempts (queue_key, attempt_hash, messages, expires_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (queue_key, attempt_hash)
DO UPDATE SET messages = excluded.messages, expires_at = excluded.expires_at
"""
_FIND: Final = """
SELECT messages FROM sqs_receive_attempts
WHERE queue_key = $1 AND attempt_hash = $2 AND expires_at > $3
FOR UPDATE
"""
_FORGET: Final = "DELETE FROM sqs_receive_attempts WHERE queue_key = $1 AND attempt_hash = $2"
_UPDATE: Final = """
UPDATE sqs_receive_attempts SET messages = $1 WHERE queue_key = $2 AND attempt_hash = $3
"""
# the attempt's messages as a receive reads them, and their visibility now
_MESSAGES: Final = """
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages WHERE partition = $1 AND seq = ANY($2::bigint[])
ORDER BY seq
FOR UPDATE
"""
_RESET: Final = "UPDATE messages SET visible_at = $1 WHERE seq = ANY($2::bigint[])"
# a send's message, found from the newest of its group (it is among the last sent)
_SEQUENCE: Final = """
SELECT seq FROM messages
WHERE partition = $1 AND group_id = $2 AND message_id = $3
ORDER BY seq DESC LIMIT 1
"""


class SqsFifoOperations(PostgresBase):
    async def record_receive_attempt(
        self,
        queue_hash: bytes,
        attempt_hash: bytes,
        messages: Sequence[StoredMessage],
        window_ms: int,
    ) -> None:
        async def operation(txn: Txn) -> None:
            key = (await queue_in(txn, queue_hash)).record.key
            await txn.conn.execute(_FORGET_EXPIRED, txn.now_ms)
            values = (key, attempt_hash, encode(messages), txn.now_ms + window_ms)
            await txn.conn.execute(_RECORD, *values)

        await self._write(operation)

    async def replay_receive_attempt(
        self, queue_hash: bytes, attempt_hash: bytes, visibility_timeout: int | None
    ) -> list[StoredMessage] | None:
        async def operation(txn: Txn) -> list[StoredMessage] | None:
            conn, now = txn.conn, txn.now_ms
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            found = await conn.fetchval(_FIND, key, attempt_hash, now)
            if found is None:
                return None
            recorded = decode(found)
            rows = await conn.fetch(_MESSAGES, queue.partition, [m.seq for m in recorded])
            current = {row[0]: row for row in rows}
            if not unchanged(recorded, {s: (r[5], r[10]) for s, r in current.items()}, now):
                await conn.execute(_FORGET, key, attempt_hash)
                return None
            request = ReceiveRequest(visibility_timeout=visibility_timeout)
            visible_at, _ = receive_times(queue.record.config, request, now)
            await conn.execute(_RESET, visible_at, [m.seq for m in recorded])
            replayed = [
                stored_message(current[m.seq], visible_at, self._cipher, group_id=current[m.seq][9])
                for m in recorded
            ]
            await conn.execute(_UPDATE, encode(replayed), key, attempt_hash)
            return replayed

        return await self._write(operation)

    async def sequence_numbers(
        self, queue_hash: bytes, sent: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        async def query(conn: Conn) -> list[int | None]:
            partition = (await lookup_queue(conn, queue_hash)).partition
            found: list[int | None] = []
            for group_id, message_id in sent:
                found.append(await conn.fetchval(_SEQUENCE, partition, group_id, message_id))
            return found

        return await self._read(query)
