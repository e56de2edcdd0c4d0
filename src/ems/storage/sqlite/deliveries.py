"""The webhook outbox in the SQLite store: claiming due pushes and recording their outcomes."""

from __future__ import annotations

import sqlite3
from typing import Any

from ems.core import envelopes
from ems.core.models import NewMessage
from ems.core.queues import new_message_id
from ems.core.topic_models import (
    AttemptResult,
    DeliveryKind,
    DeliveryTask,
)
from ems.storage.rows import DeliveryTarget
from ems.storage.sqlite.base import SqliteBase, Wake, queue_by_key
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class DeliveryOperations(SqliteBase):
    async def due_subscriptions(self, limit: int) -> list[int]:
        def query(conn: sqlite3.Connection) -> list[int]:
            now = self.clock.now_ms()
            return [row[0] for row in conn.execute(Q["due_subscriptions"], (now, now, limit))]

        return await self._read(query)

    async def claim_deliveries(
        self, subscription_key: int, limit: int, lease_margin_seconds: int
    ) -> list[DeliveryTask]:
        def operation(txn: Txn) -> list[DeliveryTask]:
            conn, now = txn.conn, txn.now_ms
            due = conn.execute(Q["due_deliveries"], (subscription_key, now, now, limit)).fetchall()
            if not due:
                return []
            target = conn.execute(Q["delivery_target"], (subscription_key,)).fetchone()
            if target is None:  # unsubscribed: its deliveries are being deleted with it
                return []
            delivery = DeliveryTarget.from_row(subscription_key, target)
            lease = delivery.lease_until(now, lease_margin_seconds)
            conn.executemany(Q["lease_delivery"], [(lease, row[0]) for row in due])
            tasks = []
            for row in due:
                if delivery.already_confirmed(row[1]):
                    conn.execute(Q["finish_delivery"], (row[0],))  # confirmed through its link
                    continue
                message_key = row[4]
                found = (
                    conn.execute(Q["topic_message"], (message_key,)).fetchone()
                    if message_key is not None
                    else None
                )
                task = delivery.task(row, found, self._cipher)
                if task is not None:
                    tasks.append(task)
            return tasks

        return await self._write(operation, savepoint=False)

    async def record_attempt(self, task: DeliveryTask, result: AttemptResult) -> None:
        await self._write(lambda txn: self._record(txn, task, result))

    def _record(self, txn: Txn, task: DeliveryTask, result: AttemptResult) -> None:
        conn, now = txn.conn, txn.now_ms
        state = conn.execute(Q["delivery_state"], (task.delivery_key,)).fetchone()
        if state is None:
            return  # unsubscribed, or the topic was deleted, while the attempt ran
        (message_key,) = state
        if result.deferred:  # held back, not attempted: nothing to count
            conn.execute(Q["defer_delivery"], (result.retry_at_ms, task.delivery_key))
            return
        final = result.delivered or result.retry_at_ms is None
        if final:
            conn.execute(Q["finish_delivery"], (task.delivery_key,))
            if message_key is not None:
                conn.execute(Q["delete_message_if_done"], (message_key, message_key))
        else:
            conn.execute(Q["retry_delivery"], (result.retry_at_ms, task.delivery_key))
        if task.kind is DeliveryKind.CONFIRMATION:
            if result.confirmed:
                conn.execute(Q["confirm_by_key"], (task.subscription_key,))
                txn.memo.clear()
            return
        failed_for_good = final and not result.delivered
        conn.execute(
            Q["count_attempt"],
            (now, result.status, result.error, int(result.delivered), int(failed_for_good),
             result.delivered, now, task.subscription_key),
        )  # fmt: skip
        if failed_for_good:
            self._dead_letter(txn, task, result)

    def _dead_letter(self, txn: Txn, task: DeliveryTask, result: AttemptResult) -> None:
        row = txn.conn.execute(Q["subscription_dead_letter"], (task.subscription_key,)).fetchone()
        if row is None or row[0] is None:
            return
        queue = queue_by_key(txn, row[0])
        if queue is None:
            return
        assert task.message is not None
        failure = NewMessage(
            new_message_id(),
            envelopes.delivery_failure(task, result),
            correlation_id=task.message.correlation_id,
        )
        rows: list[tuple[Any, ...]] = []
        wake: Wake = {}
        size, receivable = self._message_rows(queue, (failure,), txn.now_ms, rows)
        txn.conn.execute(Q["force_storage"], (1, size, queue.record.key))
        if receivable:
            wake[queue.record.key] = receivable
        self._insert_messages(txn, rows, wake)
