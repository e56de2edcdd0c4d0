"""SQS FIFO receive attempts and sequence numbers in the SQLite store.

The rules are :mod:`ems.core.receive_attempts`'s. The one writer runs a replay's check and its
visibility reset in one transaction, so no receive can take the messages in between. The
statements are kept here, apart from ``queries.sql``: they serve the SQS API alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from ems.core.models import ReceiveRequest, StoredMessage
from ems.core.receive_attempts import decode, encode, unchanged
from ems.storage.rows import receive_times, stored_message
from ems.storage.sqlite.base import SqliteBase, lookup_queue, queue_in
from ems.storage.sqlite.writer import Txn

_FORGET_EXPIRED: Final = "DELETE FROM sqs_receive_attempts WHERE expires_at <= ?"
_RECORD: Final = """
INSERT OR REPLACE INTO sqs_receive_attempts (queue_key, attempt_hash, messages, expires_at)
VALUES (?, ?, ?, ?)
"""
_FIND: Final = """
SELECT messages FROM sqs_receive_attempts
WHERE queue_key = ? AND attempt_hash = ? AND expires_at > ?
"""
_FORGET: Final = "DELETE FROM sqs_receive_attempts WHERE queue_key = ? AND attempt_hash = ?"
_UPDATE: Final = """
UPDATE sqs_receive_attempts SET messages = ? WHERE queue_key = ? AND attempt_hash = ?
"""
# the attempt's messages as a receive reads them, and their visibility now
_MESSAGES: Final = """
SELECT seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
       first_received_at, cipher, group_id, visible_at
FROM messages WHERE partition = ? AND seq IN ({})
"""
_RESET: Final = "UPDATE messages SET visible_at = ? WHERE seq = ?"
# a send's message, found from the newest of its group (it is among the last sent)
_SEQUENCE: Final = """
SELECT seq FROM messages INDEXED BY messages_grouped
WHERE partition = ? AND group_id = ? AND message_id = ?
ORDER BY seq DESC LIMIT 1
"""


class SqsFifoOperations(SqliteBase):
    async def record_receive_attempt(
        self,
        queue_hash: bytes,
        attempt_hash: bytes,
        messages: Sequence[StoredMessage],
        window_ms: int,
    ) -> None:
        def operation(txn: Txn) -> None:
            key = queue_in(txn, queue_hash).record.key
            txn.conn.execute(_FORGET_EXPIRED, (txn.now_ms,))
            values = (key, attempt_hash, encode(messages), txn.now_ms + window_ms)
            txn.conn.execute(_RECORD, values)

        await self._write(operation)

    async def replay_receive_attempt(
        self, queue_hash: bytes, attempt_hash: bytes, visibility_timeout: int | None
    ) -> list[StoredMessage] | None:
        def operation(txn: Txn) -> list[StoredMessage] | None:
            conn, now = txn.conn, txn.now_ms
            queue = queue_in(txn, queue_hash)
            key = queue.record.key
            found = conn.execute(_FIND, (key, attempt_hash, now)).fetchone()
            if found is None:
                return None
            recorded = decode(found[0])
            marks = ",".join("?" * len(recorded))
            rows = conn.execute(
                _MESSAGES.format(marks), (queue.partition, *(m.seq for m in recorded))
            ).fetchall()
            current = {row[0]: row for row in rows}
            if not unchanged(recorded, {s: (r[5], r[10]) for s, r in current.items()}, now):
                conn.execute(_FORGET, (key, attempt_hash))
                return None
            request = ReceiveRequest(visibility_timeout=visibility_timeout)
            visible_at, _ = receive_times(queue.record.config, request, now)
            conn.executemany(_RESET, [(visible_at, m.seq) for m in recorded])
            replayed = [
                stored_message(current[m.seq], visible_at, self._cipher, group_id=current[m.seq][9])
                for m in recorded
            ]
            conn.execute(_UPDATE, (encode(replayed), key, attempt_hash))
            return replayed

        return await self._write(operation)

    async def sequence_numbers(
        self, queue_hash: bytes, sent: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        def query(conn: sqlite3.Connection) -> list[int | None]:
            partition = lookup_queue(conn, queue_hash).partition
            found: list[int | None] = []
            for group_id, message_id in sent:
                row = conn.execute(_SEQUENCE, (partition, group_id, message_id)).fetchone()
                found.append(None if row is None else row[0])
            return found

        return await self._read(query)
