"""Queue lifecycle in the SQLite store: create, describe, update, rotate, delete, purge."""

from __future__ import annotations

import sqlite3

from ems.core.errors import DeadLetterQueueNotFound, InvalidAttribute, QuotaExceeded
from ems.core.models import (
    DeadLetter,
    QueueCapabilities,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
)
from ems.storage.rows import fifo_value
from ems.storage.sqlite.base import SqliteBase, lookup_queue, queue_in
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class QueueOperations(SqliteBase):
    async def create_queue(
        self,
        capabilities: QueueCapabilities,
        config: QueueConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> QueueRecord:
        def operation(txn: Txn) -> QueueRecord:
            conn = txn.conn
            if owner is not None and quota is not None:
                (owned,) = conn.execute(Q["count_owned_queues"], (owner,)).fetchone()
                if owned >= quota:
                    raise QuotaExceeded(
                        f"This API key may create at most {quota} queues and has {owned}; delete "
                        "some, or ask the operator for a larger quota."
                    )
            dl_key, max_receives, sealed = self._resolve_dead_letter(conn, config.dead_letter)
            partition = conn.execute(Q["new_partition"]).lastrowid
            key = conn.execute(
                Q["insert_queue"],
                (capabilities.full, partition, config.visibility_timeout,
                 config.retention_seconds, config.max_message_bytes, config.delay_seconds,
                 config.receive_wait_seconds, dl_key, max_receives, sealed, txn.now_ms,
                 capabilities.send, capabilities.receive, owner, config.max_stored_messages,
                 config.max_stored_bytes, config.label, config.deduplication_window_seconds,
                 fifo_value(config.fifo)),
            ).lastrowid  # fmt: skip
            assert key is not None
            return QueueRecord(key, config, txn.now_ms)

        return await self._write(operation)

    @staticmethod
    def _resolve_dead_letter(
        conn: sqlite3.Connection, dead_letter: DeadLetter | None, *, owner_key: int | None = None
    ) -> tuple[int | None, int | None, bytes | None]:
        if dead_letter is None:
            return None, None, None
        # the dead-letter queue is only sent to: its send id is enough to name it
        row = conn.execute(Q["queue_key_for_sending"], (dead_letter.queue_hash,)).fetchone()
        if row is None:
            raise DeadLetterQueueNotFound(
                "dead_letter.queue_id names no queue this id may send to: create the "
                "dead-letter queue first and use its queue_id (or send_id).",
                parameter="dead_letter",
            )
        if row[0] == owner_key:
            raise InvalidAttribute(
                "A queue cannot be its own dead-letter queue.", parameter="dead_letter"
            )
        return row[0], dead_letter.max_receives, dead_letter.sealed_queue_id

    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        record = self._cache.get(queue_hash)
        if record is not None:
            return record
        epoch = self._cache_epoch
        queue = await self._read(lambda conn: lookup_queue(conn, queue_hash))
        self._cache_queue(queue_hash, queue.record, epoch)
        return queue.record

    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        def query(conn: sqlite3.Connection) -> QueueStats:
            queue = lookup_queue(conn, queue_hash)
            now = self.clock.now_ms()
            p = queue.partition
            (visible,) = conn.execute(Q["count_visible"], (p, now)).fetchone()
            (in_flight,) = conn.execute(Q["count_in_flight"], (p, now)).fetchone()
            (delayed,) = conn.execute(Q["count_delayed"], (p, now)).fetchone()
            oldest = conn.execute(Q["oldest_sent_at"], (p,)).fetchone()
            stored, stored_bytes = conn.execute(Q["stored"], (queue.record.key,)).fetchone()
            return QueueStats(
                visible, in_flight, delayed, oldest[0] if oldest else None, stored, stored_bytes
            )

        return await self._read(query)

    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord:
        def operation(txn: Txn) -> QueueRecord:
            conn = txn.conn
            queue = queue_in(txn, queue_hash)
            old = queue.record.config
            if changes.clear_dead_letter:
                dead_letter = None
            else:
                dead_letter = changes.dead_letter or old.dead_letter
            new = QueueConfig(
                visibility_timeout=_pick(changes.visibility_timeout, old.visibility_timeout),
                retention_seconds=_pick(changes.retention_seconds, old.retention_seconds),
                max_message_bytes=_pick(changes.max_message_bytes, old.max_message_bytes),
                delay_seconds=_pick(changes.delay_seconds, old.delay_seconds),
                receive_wait_seconds=_pick(changes.receive_wait_seconds, old.receive_wait_seconds),
                dead_letter=dead_letter,
                max_stored_messages=changes.max_stored_messages or old.max_stored_messages,
                max_stored_bytes=changes.max_stored_bytes or old.max_stored_bytes,
                deduplication_window_seconds=_pick(
                    changes.deduplication_window_seconds, old.deduplication_window_seconds
                ),
                fifo=old.fifo,  # set at creation only
                label=changes.new_label(old.label),
            )
            dl_key, max_receives, sealed = self._resolve_dead_letter(
                conn, dead_letter, owner_key=queue.record.key
            )
            conn.execute(
                Q["update_queue"],
                (new.visibility_timeout, new.retention_seconds, new.max_message_bytes,
                 new.delay_seconds, new.receive_wait_seconds, dl_key, max_receives, sealed,
                 new.max_stored_messages, new.max_stored_bytes, new.label,
                 new.deduplication_window_seconds, queue.record.key),
            )  # fmt: skip
            txn.memo.clear()
            key = queue.record.key
            txn.after_commit(lambda: self._forget(key))
            return QueueRecord(key, new, queue.record.created_at_ms, queue.record.scope)

        return await self._write(operation)

    async def rotate_queue(self, queue_hash: bytes, send_hash: bytes, receive_hash: bytes) -> None:
        def operation(txn: Txn) -> None:
            key = queue_in(txn, queue_hash).record.key
            txn.conn.execute(Q["rotate_queue"], (send_hash, receive_hash, key))
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))

        await self._write(operation)

    async def delete_queue(self, queue_hash: bytes) -> None:
        def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = queue_in(txn, queue_hash)
            key = queue.record.key
            sources = [row[0] for row in conn.execute(Q["detach_dead_letter_sources"], (key,))]
            conn.execute(Q["detach_queue_subscriptions"], (key,))
            conn.execute(Q["detach_subscription_dead_letters"], (key,))
            conn.execute(Q["delete_move_tasks_of_queue"], (key,))
            conn.execute(Q["delete_queue"], (key,))
            conn.execute(Q["forget_idempotency_keys"], (key,))
            conn.execute(Q["retire_partition"], (queue.partition,))
            txn.memo.clear()

            def effect() -> None:
                self._forget(key, *sources)
                self.wakeups.notify_all(key)

            txn.after_commit(effect)

        await self._write(operation)

    async def purge_queue(self, queue_hash: bytes) -> None:
        def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = queue_in(txn, queue_hash)
            partition = conn.execute(Q["new_partition"]).lastrowid
            conn.execute(Q["repartition_queue"], (partition, queue.record.key))
            conn.execute(Q["retire_partition"], (queue.partition,))
            txn.memo.clear()

        await self._write(operation)


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new
