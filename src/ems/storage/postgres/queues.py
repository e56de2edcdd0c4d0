"""Queue lifecycle in the PostgreSQL store: create, describe, update, rotate, delete, purge."""

from __future__ import annotations

from ems.core.errors import DeadLetterQueueNotFound, InvalidAttribute, QuotaExceeded
from ems.core.models import (
    DeadLetter,
    QueueCapabilities,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
)
from ems.storage.postgres.base import Conn, PostgresBase, lookup_queue, queue_in
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import fifo_value


class QueueOperations(PostgresBase):
    async def create_queue(
        self,
        capabilities: QueueCapabilities,
        config: QueueConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> QueueRecord:
        async def operation(txn: Txn) -> QueueRecord:
            conn = txn.conn
            if owner is not None and quota is not None:
                await check_quota(conn, "queues", owner, quota)
            dl_key, max_receives, sealed = await _resolve_dead_letter(conn, config.dead_letter)
            partition = await conn.fetchval(Q["new_partition"])
            key = await conn.fetchval(
                Q["insert_queue"],
                capabilities.full, partition, config.visibility_timeout,
                config.retention_seconds, config.max_message_bytes, config.delay_seconds,
                config.receive_wait_seconds, dl_key, max_receives, sealed, txn.now_ms,
                capabilities.send, capabilities.receive, owner, config.max_stored_messages,
                config.max_stored_bytes, config.label, config.deduplication_window_seconds,
                fifo_value(config.fifo),
            )  # fmt: skip
            return QueueRecord(key, config, txn.now_ms)

        return await self._write(operation)

    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        async def query(conn: Conn) -> QueueStats:
            queue = await lookup_queue(conn, queue_hash)
            now = self.clock.now_ms()
            p = queue.partition
            visible = await conn.fetchval(Q["count_visible"], p, now)
            in_flight = await conn.fetchval(Q["count_in_flight"], p, now)
            delayed = await conn.fetchval(Q["count_delayed"], p, now)
            oldest = await conn.fetchval(Q["oldest_sent_at"], p)
            counters = await conn.fetchrow(Q["stored"], queue.record.key)
            stored, stored_bytes = counters if counters is not None else (0, 0)
            return QueueStats(visible, in_flight, delayed, oldest, stored, stored_bytes)

        return await self._read(query)

    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord:
        async def operation(txn: Txn) -> QueueRecord:
            queue = await queue_in(txn, queue_hash)
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
            key = queue.record.key
            dl_key, max_receives, sealed = await _resolve_dead_letter(
                txn.conn, dead_letter, owner_key=key
            )
            await txn.conn.execute(
                Q["update_queue"],
                new.visibility_timeout, new.retention_seconds, new.max_message_bytes,
                new.delay_seconds, new.receive_wait_seconds, dl_key, max_receives, sealed,
                new.max_stored_messages, new.max_stored_bytes, key, new.label,
                new.deduplication_window_seconds,
            )  # fmt: skip
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))
            return QueueRecord(key, new, queue.record.created_at_ms, queue.record.scope)

        return await self._write(operation)

    async def rotate_queue(self, queue_hash: bytes, send_hash: bytes, receive_hash: bytes) -> None:
        async def operation(txn: Txn) -> None:
            key = (await queue_in(txn, queue_hash)).record.key
            await txn.conn.execute(Q["rotate_queue"], send_hash, receive_hash, key)
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))

        await self._write(operation)

    async def delete_queue(self, queue_hash: bytes) -> None:
        async def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            sources = [row[0] for row in await conn.fetch(Q["detach_dead_letter_sources"], key)]
            await conn.execute(Q["detach_queue_subscriptions"], key)
            await conn.execute(Q["detach_subscription_dead_letters"], key)
            await conn.execute(Q["delete_move_tasks_of_queue"], key)
            await conn.execute(Q["delete_queue"], key)
            await conn.execute(Q["forget_idempotency_keys"], key)
            await conn.execute(Q["retire_partition"], queue.partition)
            txn.memo.clear()
            txn.adjustments.pop(key, None)  # nothing left to count

            def effect() -> None:
                self._forget(key, *sources)
                self.wakeups.notify_all(key)

            txn.after_commit(effect)

        await self._write(operation)

    async def purge_queue(self, queue_hash: bytes) -> None:
        async def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = await queue_in(txn, queue_hash)
            partition = await conn.fetchval(Q["new_partition"])
            await conn.execute(Q["repartition_queue"], partition, queue.record.key)
            await conn.execute(Q["retire_partition"], queue.partition)
            txn.memo.clear()
            key = queue.record.key
            txn.adjustments.pop(key, None)  # the counters start again from zero
            txn.after_commit(lambda: self._forget(key))

        await self._write(operation)


async def check_quota(conn: Conn, kind: str, owner: str, quota: int) -> None:
    # two nodes creating for one owner at once take turns, so the quota holds exactly
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ems/owner/' || $1))", owner)
    owned = await conn.fetchval(Q[f"count_owned_{kind}"], owner)
    if owned >= quota:
        raise QuotaExceeded(
            f"This API key may create at most {quota} {kind} and has {owned}; delete some, or "
            "ask the operator for a larger quota."
        )


async def _resolve_dead_letter(
    conn: Conn, dead_letter: DeadLetter | None, *, owner_key: int | None = None
) -> tuple[int | None, int | None, bytes | None]:
    if dead_letter is None:
        return None, None, None
    # the dead-letter queue is only sent to: its send id is enough to name it
    key = await conn.fetchval(Q["queue_key_for_sending"], dead_letter.queue_hash)
    if key is None:
        raise DeadLetterQueueNotFound(
            "dead_letter.queue_id names no queue this id may send to: create the "
            "dead-letter queue first and use its queue_id (or send_id).",
            parameter="dead_letter",
        )
    if key == owner_key:
        raise InvalidAttribute(
            "A queue cannot be its own dead-letter queue.", parameter="dead_letter"
        )
    return key, dead_letter.max_receives, dead_letter.sealed_queue_id


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new
