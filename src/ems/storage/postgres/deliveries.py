"""The webhook outbox in the PostgreSQL store: leasing due pushes and recording their outcomes.

Every node runs a dispatcher. A push is leased (``lease_until``) by the node that claims it, with
``FOR UPDATE SKIP LOCKED`` so two nodes claiming at once take different rows; while the lease
runs no other node touches it, and when a node dies its leases simply run out.
"""

from __future__ import annotations

import json
from typing import Any

from ems.core import envelopes
from ems.core.models import NewMessage
from ems.core.queues import new_message_id
from ems.core.topic_models import (
    AttemptResult,
    DeliveryKind,
    DeliveryPolicy,
    DeliveryTask,
    Status,
)
from ems.storage.postgres.base import Conn, PostgresBase, Wake, queue_by_key
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import topic_message


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
            subscription_id, url, secret, policy, challenge, confirm_url, status, public_id = target
            delivery_policy = DeliveryPolicy(**json.loads(policy))
            lease = now + (delivery_policy.timeout_seconds + lease_margin_seconds) * 1000
            due = await conn.fetch(Q["claim_deliveries"], subscription_key, now, limit, lease)
            if not due:
                return []
            tasks = []
            for key, kind, webhook_id, attempts, message_key in sorted(due, key=lambda r: r[0]):
                found = (
                    await conn.fetchrow(Q["topic_message"], message_key)
                    if message_key is not None
                    else None
                )
                message, published_at = (
                    topic_message(tuple(found), self._cipher) if found else (None, None)
                )
                if kind == DeliveryKind.NOTIFICATION and message is None:
                    continue  # cannot happen: a message lives while it has deliveries
                if kind == DeliveryKind.CONFIRMATION and status == Status.CONFIRMED:
                    await conn.execute(Q["finish_delivery"], key)  # confirmed through its link
                    continue
                tasks.append(
                    DeliveryTask(
                        delivery_key=key,
                        kind=DeliveryKind(kind),
                        webhook_id=webhook_id,
                        attempt=attempts + 1,
                        subscription_key=subscription_key,
                        subscription_id=subscription_id,
                        topic_public_id=public_id,
                        url=url,
                        signing_secret=secret,
                        policy=delivery_policy,
                        message=message,
                        published_at_ms=published_at,
                        challenge=challenge,
                        confirm_url=confirm_url,
                    )
                )
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
