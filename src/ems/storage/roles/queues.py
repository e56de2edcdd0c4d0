"""Queue lifecycle, for every driver: create, describe, update, rotate, delete, purge.

The rules (settings merging, dead-letter targets, quotas) are :mod:`ems.core.queue_rules`'s;
this module looks up what they need and writes what they decide. Reading a queue by id
(``get_queue``) stays with each driver: its cache is the driver's.
"""

from __future__ import annotations

from abc import abstractmethod

from ems.core.clock import Clock
from ems.core.models import (
    DeadLetter,
    QueueCapabilities,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
)
from ems.core.queue_rules import DeadLetterColumns, check_quota, dead_letter_columns, merged_config
from ems.core.wakeups import Wakeups
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.roles.lookups import lookup_queue, queue_in
from ems.storage.rows import fifo_value


async def within_quota(txn: Transaction, kind: str, owner: str | None, quota: int | None) -> None:
    """Raise QuotaExceeded if ``owner`` already has ``quota`` of ``kind`` (queues, topics)."""
    if owner is None or quota is None:
        return
    # two nodes creating for one owner at once take turns, so the quota holds exactly
    await txn.db.run("lock_owner", owner)
    check_quota(kind, await txn.db.value(f"count_owned_{kind}", owner), quota)


async def _dead_letter(
    txn: Transaction, dead_letter: DeadLetter | None, *, own_key: int | None = None
) -> DeadLetterColumns:
    if dead_letter is None:
        return None, None, None
    # the dead-letter queue is only sent to: its send id is enough to name it
    key = await txn.db.value("queue_key_for_sending", dead_letter.queue_hash)
    return dead_letter_columns(dead_letter, key, own_key=own_key)


class QueueLifecycle(Driver):
    wakeups: Wakeups
    clock: Clock

    @abstractmethod
    def _forget(self, *queue_keys: int) -> None:
        """Drop cached records of these queues (on every node)."""

    async def create_queue(
        self,
        capabilities: QueueCapabilities,
        config: QueueConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> QueueRecord:
        async def operation(txn: Transaction) -> QueueRecord:
            await within_quota(txn, "queues", owner, quota)
            dl_key, max_receives, sealed = await _dead_letter(txn, config.dead_letter)
            partition = await txn.db.value("new_partition")
            key = await txn.db.value(
                "insert_queue",
                capabilities.full, partition, config.visibility_timeout,
                config.retention_seconds, config.max_message_bytes, config.delay_seconds,
                config.receive_wait_seconds, dl_key, max_receives, sealed, txn.now_ms,
                capabilities.send, capabilities.receive, owner, config.max_stored_messages,
                config.max_stored_bytes, config.label, config.deduplication_window_seconds,
                fifo_value(config.fifo),
            )  # fmt: skip
            return QueueRecord(key, config, txn.now_ms)

        return await self._transact(operation)

    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        async def query(db: Statements) -> QueueStats:
            queue = await lookup_queue(db, queue_hash)
            now = self.clock.now_ms()
            p = queue.partition
            visible = await db.value("count_visible", p, now)
            in_flight = await db.value("count_in_flight", p, now)
            delayed = await db.value("count_delayed", p, now)
            oldest = await db.value("oldest_sent_at", p)
            counters = await db.row("stored", queue.record.key)
            stored, stored_bytes = counters if counters is not None else (0, 0)
            return QueueStats(visible, in_flight, delayed, oldest, stored, stored_bytes)

        return await self._query(query)

    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord:
        async def operation(txn: Transaction) -> QueueRecord:
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            new = merged_config(queue.record.config, changes)
            dl_key, max_receives, sealed = await _dead_letter(txn, new.dead_letter, own_key=key)
            await txn.db.run(
                "update_queue",
                new.visibility_timeout, new.retention_seconds, new.max_message_bytes,
                new.delay_seconds, new.receive_wait_seconds, dl_key, max_receives, sealed,
                new.max_stored_messages, new.max_stored_bytes, new.label,
                new.deduplication_window_seconds, key,
            )  # fmt: skip
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))
            return QueueRecord(key, new, queue.record.created_at_ms, queue.record.scope)

        return await self._transact(operation)

    async def rotate_queue(self, queue_hash: bytes, send_hash: bytes, receive_hash: bytes) -> None:
        async def operation(txn: Transaction) -> None:
            key = (await queue_in(txn, queue_hash)).record.key
            await txn.db.run("rotate_queue", send_hash, receive_hash, key)
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(key))

        await self._transact(operation)

    async def delete_queue(self, queue_hash: bytes) -> None:
        async def operation(txn: Transaction) -> None:
            db = txn.db
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            sources = [row[0] for row in await db.rows("detach_dead_letter_sources", key)]
            await db.run("detach_queue_subscriptions", key)
            await db.run("detach_subscription_dead_letters", key)
            await db.run("delete_move_tasks_of_queue", key)
            await db.run("delete_queue", key)
            await db.run("forget_idempotency_keys", key)
            await db.run("retire_partition", queue.partition)
            txn.memo.clear()
            txn.forget_counters(key)  # nothing left to count

            def effect() -> None:
                self._forget(key, *sources)
                self.wakeups.notify_all(key)

            txn.after_commit(effect)

        await self._transact(operation)

    async def purge_queue(self, queue_hash: bytes) -> None:
        async def operation(txn: Transaction) -> None:
            queue = await queue_in(txn, queue_hash)
            key = queue.record.key
            partition = await txn.db.value("new_partition")
            await txn.db.run("repartition_queue", partition, key)
            await txn.db.run("retire_partition", queue.partition)
            txn.memo.clear()
            txn.forget_counters(key)  # the counters start again from zero
            txn.after_commit(lambda: self._forget(key))

        await self._transact(operation)
