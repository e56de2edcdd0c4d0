"""The webhook outbox in the PostgreSQL store: leasing due pushes and recording their outcomes.

Every node runs a dispatcher. A push is leased (``lease_until``) by the node that claims it, with
``FOR UPDATE SKIP LOCKED`` so two nodes claiming at once take different rows; while the lease
runs no other node touches it, and when a node dies its leases simply run out.
"""

from __future__ import annotations

from typing import Any

from ems.core import envelopes
from ems.core.models import NewMessage
from ems.core.queues import new_message_id
from ems.core.topic_models import (
    AttemptResult,
    DeliveryKind,
    DeliveryTask,
)
from ems.storage.postgres.base import Conn, PostgresBase, Wake, queue_by_key
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import DeliveryTarget


class DeliveryOperations(PostgresBase):
    async def due_subscriptions(self, limit: int) -> list[int]:
        async def query(conn: Conn) -> list[int]:
            rows = await conn.fetch(Q["due_subscriptions"], self.clock.now_ms(), limit)
            return [row[0] for row in rows]

        return await self._read(query)

    async def claim_deliveries(
        self, subscription_key: int, limit: int, lease_margin_seconds: int
    ) -> list[DeliveryTask]:
        async def operation(txn: Txn) -> list[DeliveryTask]:
            conn, now = txn.conn, txn.now_ms
            target = await conn.fetchrow(Q["delivery_target"], subscription_key)
            if target is None:  # unsubscribed: its deliveries are being deleted with it
                return []
            delivery = DeliveryTarget.from_row(subscription_key, target)
            lease = delivery.lease_until(now, lease_margin_seconds)
            due = await conn.fetch(Q["claim_deliveries"], subscription_key, now, limit, lease)
            tasks = []
            for row in sorted(due, key=lambda r: r[0]):
                if delivery.already_confirmed(row[1]):
                    await conn.execute(Q["finish_delivery"], row[0])  # confirmed through its link
                    continue
                message_key = row[4]
                found = (
                    await conn.fetchrow(Q["topic_message"], message_key)
                    if message_key is not None
                    else None
                )
                task = delivery.task(row, tuple(found) if found else None, self._cipher)
                if task is not None:
                    tasks.append(task)
            return tasks

        return await self._write(operation, savepoint=False)

    async def record_attempt(self, task: DeliveryTask, result: AttemptResult) -> None:
        await self._write(lambda txn: self._record(txn, task, result))

    async def _record(self, txn: Txn, task: DeliveryTask, result: AttemptResult) -> None:
        conn, now = txn.conn, txn.now_ms
        state = await conn.fetchrow(Q["delivery_state"], task.delivery_key)
        if state is None:
            return  # unsubscribed, or the topic was deleted, while the attempt ran
        (message_key,) = state
        if result.deferred:  # held back, not attempted: nothing to count
            await conn.execute(Q["defer_delivery"], result.retry_at_ms, task.delivery_key)
            return
        final = result.delivered or result.retry_at_ms is None
        if final:
            await conn.execute(Q["finish_delivery"], task.delivery_key)
            if message_key is not None:
                await conn.execute(Q["delete_message_if_done"], message_key)
        else:
            await conn.execute(Q["retry_delivery"], result.retry_at_ms, task.delivery_key)
        if task.kind is DeliveryKind.CONFIRMATION:
            if result.confirmed:
                await conn.execute(Q["confirm_by_key"], task.subscription_key)
                txn.memo.clear()
            return
        failed_for_good = final and not result.delivered
        await conn.execute(
            Q["count_attempt"],
            now, result.status, result.error, int(result.delivered), int(failed_for_good),
            result.delivered, task.subscription_key,
        )  # fmt: skip
        if failed_for_good:
            await self._dead_letter(txn, task, result)

    async def _dead_letter(self, txn: Txn, task: DeliveryTask, result: AttemptResult) -> None:
        dl_key = await txn.conn.fetchval(Q["subscription_dead_letter"], task.subscription_key)
        if dl_key is None:
            return
        queue = await queue_by_key(txn, dl_key)
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
        txn.adjust(queue.record.key, 1, size)  # a failure report always fits
        if receivable:
            wake[queue.record.key] = receivable
        await self._insert_messages(txn, rows, {}, wake)
