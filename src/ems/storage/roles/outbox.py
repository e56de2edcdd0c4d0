"""The webhook outbox, for every driver: leasing due pushes and recording their outcomes.

Every node runs a dispatcher. A push is leased (``lease_until``) by the node that claims it; on
PostgreSQL the claim skips rows another node is claiming (``FOR UPDATE SKIP LOCKED``), so two
nodes claiming at once take different rows. While the lease runs no other node touches it, and
when a node dies its leases simply run out. A push that failed for good leaves a report in its
subscription's dead-letter queue, if it names one (the driver stores it:
:meth:`DeliveryOutbox._store_report`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from ems.core import envelopes
from ems.core.clock import Clock
from ems.core.ids import new_message_id
from ems.core.models import NewMessage
from ems.core.topic_models import AttemptResult, DeliveryKind, DeliveryTask
from ems.storage.cipher import BodyCipher
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.roles.lookups import queue_by_key
from ems.storage.rows import QueueRow
from ems.storage.topic_rows import DeliveryTarget, DueDeliveryColumns


class DeliveryOutbox(Driver):
    clock: Clock
    _cipher: BodyCipher | None

    @abstractmethod
    async def _store_report(self, txn: Any, queue: QueueRow, report: NewMessage) -> None:
        """Store a failure report in a dead-letter queue: it always fits (counted without
        checking room), and wakes the queue's receivers."""

    async def due_subscriptions(self, limit: int) -> list[int]:
        async def query(db: Statements) -> list[int]:
            rows = await db.rows("due_subscriptions", self.clock.now_ms(), limit)
            return [row[0] for row in rows]

        return await self._query(query)

    async def claim_deliveries(
        self, subscription_key: int, limit: int, lease_margin_seconds: int
    ) -> list[DeliveryTask]:
        async def operation(txn: Transaction) -> list[DeliveryTask]:
            db, now = txn.db, txn.now_ms
            target = await db.row("delivery_target", subscription_key)
            if target is None:  # unsubscribed: its deliveries are being deleted with it
                return []
            delivery = DeliveryTarget.from_row(subscription_key, target)
            lease = delivery.lease_until(now, lease_margin_seconds)
            due = await db.rows("claim_deliveries", subscription_key, now, limit, lease)
            tasks = []
            # oldest first
            for row in sorted(map(DueDeliveryColumns._make, due), key=lambda d: d.key):
                if delivery.already_confirmed(row.kind):
                    await db.run("finish_delivery", row.key)  # confirmed through its link
                    continue
                message_key = row.message_key
                found = (
                    await db.row("topic_message", message_key) if message_key is not None else None
                )
                task = delivery.task(row, tuple(found) if found else None, self._cipher)
                if task is not None:
                    tasks.append(task)
            return tasks

        return await self._transact(operation, savepoint=False)

    async def record_attempt(self, task: DeliveryTask, result: AttemptResult) -> None:
        async def operation(txn: Transaction) -> None:
            await self._record(txn, task, result)

        await self._transact(operation)

    async def _record(self, txn: Transaction, task: DeliveryTask, result: AttemptResult) -> None:
        db, now = txn.db, txn.now_ms
        state = await db.row("delivery_state", task.delivery_key)
        if state is None:
            return  # unsubscribed, or the topic was deleted, while the attempt ran
        (message_key,) = state
        if result.deferred:  # held back, not attempted: nothing to count
            await db.run("defer_delivery", result.retry_at_ms, task.delivery_key)
            return
        final = result.delivered or result.retry_at_ms is None
        if final:
            await db.run("finish_delivery", task.delivery_key)
            if message_key is not None:
                await db.run("delete_message_if_done", message_key)
        else:
            await db.run("retry_delivery", result.retry_at_ms, task.delivery_key)
        if task.kind is DeliveryKind.CONFIRMATION:
            if result.confirmed:
                await db.run("confirm_by_key", task.subscription_key)
                txn.memo.clear()
            return
        failed_for_good = final and not result.delivered
        await db.run(
            "count_attempt",
            now, result.status, result.error, int(result.delivered), int(failed_for_good),
            result.delivered, task.subscription_key,
        )  # fmt: skip
        if failed_for_good:
            await self._dead_letter(txn, task, result)

    async def _dead_letter(
        self, txn: Transaction, task: DeliveryTask, result: AttemptResult
    ) -> None:
        dl_key = await txn.db.value("subscription_dead_letter", task.subscription_key)
        if dl_key is None:
            return
        queue = await queue_by_key(txn, dl_key)
        if queue is None:
            return
        assert task.message is not None
        report = NewMessage(
            new_message_id(),
            envelopes.delivery_failure(task, result),
            correlation_id=task.message.correlation_id,
        )
        await self._store_report(txn, queue, report)
