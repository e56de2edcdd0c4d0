"""Topics in the PostgreSQL store: reading a topic by id (from the cache) and the atomic fan-out
of a publish; the rest of topics and subscriptions is :mod:`ems.storage.roles.topics`."""

from __future__ import annotations

from typing import Any

from ems.core import sns_envelopes
from ems.core.models import NewMessage
from ems.core.subscription_rules import matches
from ems.core.topic_models import (
    DeliveryKind,
    PublishResult,
    SubscriptionProtocol,
    TopicMessage,
    TopicRecord,
)
from ems.storage.postgres.base import Wake, lookup_topic
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.fifo_topics import FifoFanout
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.roles.lookups import queue_by_key, topic_in
from ems.storage.rows import encode_attributes
from ems.storage.topic_rows import FanoutTarget, fanout_target, new_webhook_id

_QUEUE = SubscriptionProtocol.QUEUE.value
_EMAIL = SubscriptionProtocol.EMAIL.value


class TopicOperations(FifoFanout):
    async def get_topic(self, topic_hash: bytes) -> TopicRecord:
        # topics never change, they only go away; operations look them up again in their
        # transaction, so a record cached after a deletion on another node only delays a 404
        record = self._topics.get(topic_hash)
        if record is None:
            epoch = self._cache_epoch
            record = await self._read(lambda conn: lookup_topic(conn, topic_hash))
            if epoch == self._cache_epoch:
                self._topics[topic_hash] = record
        return record

    def _forget_topic(self, topic_hash: bytes) -> None:
        self._cache_epoch += 1
        self._topics.pop(topic_hash, None)

    # publishing

    async def publish(self, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        # raises (TopicNotFound) only before writing: no savepoint
        return await self._write(
            lambda txn: self._publish(txn, topic_hash, message), savepoint=False
        )

    async def _fanout(self, txn: Txn, topic_key: int) -> list[FanoutTarget]:
        memo_key = ("fanout", topic_key)
        fanout: list[FanoutTarget] | None = txn.memo.get(memo_key)
        if fanout is None:
            fanout = txn.memo[memo_key] = [
                fanout_target(row) for row in await txn.conn.fetch(Q["topic_fanout"], topic_key)
            ]
        return fanout

    async def _publish(self, txn: Txn, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        now = txn.now_ms
        topic = await topic_in(txn, topic_hash)
        copy = NewMessage(
            message.message_id, message.body, message.correlation_id, message.attributes
        )
        rows: list[tuple[Any, ...]] = []
        partitions: dict[int, int] = {}
        wake: Wake = {}
        queues = skipped = 0
        webhooks = []
        emails = 0
        # queue subscriptions in queue-key order: queue rows are locked in that order
        for target in await self._fanout(txn, topic.key):
            if not target.confirmed or not matches(target.filter_policy, message):
                continue
            if target.protocol != _QUEUE:
                webhooks.append(target.key)
                emails += target.protocol == _EMAIL
                continue
            key, queue_key, sns = target.key, target.queue_key, target.sns
            assert queue_key is not None
            queue = await queue_by_key(txn, queue_key)
            if queue is None:
                continue
            # a queue that cannot take the message is skipped and the failure recorded on its
            # subscription: one subscriber must not block a topic for all the others
            queue_copy = copy if sns is None else sns_envelopes.queue_copy(message, sns)
            size = queue_copy.size
            limit = queue.record.config.max_message_bytes
            if size > limit:
                await self._queue_subscription_failed(
                    txn, key, f"message of {size} bytes; the queue accepts at most {limit}"
                )
                skipped += 1
                continue
            fifo_key = None
            if queue.record.config.fifo is not None or message.group_id is not None:
                fifo = await self._fifo_copy(txn, key, queue, message, queue_copy)
                if isinstance(fifo, int):  # not stored: a duplicate there, or refused
                    skipped += fifo
                    continue
                queue_copy, fifo_key = fifo
            mark = len(rows)
            stored, receivable = self._message_rows(queue, (queue_copy,), now, rows)
            reserved = await self._reserve(txn, queue, 1, stored)
            if not isinstance(reserved, int):
                del rows[mark:]
                if fifo_key is not None:
                    await self._unclaim(txn, queue, fifo_key)
                await self._queue_subscription_failed(txn, key, "the queue is full")
                skipped += 1
                continue
            partitions[queue.partition] = reserved
            if receivable:
                wake.setdefault(queue.record.key, []).extend(receivable)
            queues += 1
        await self._insert_messages(txn, rows, partitions, wake)
        await self._record_pushes(txn, topic.key, message, webhooks)
        return PublishResult(
            queues=queues, webhooks=len(webhooks) - emails, skipped=skipped, emails=emails
        )

    async def _record_pushes(
        self, txn: Txn, topic_key: int, message: TopicMessage, webhooks: list[int]
    ) -> None:
        """Keep the message for the webhook and email subscriptions, and queue their pushes."""
        if not webhooks:
            return
        conn, now = txn.conn, txn.now_ms
        body, key_id = (
            (message.body, None) if self._cipher is None else self._cipher.seal(message.body)
        )
        message_key = await conn.fetchval(
            Q["insert_topic_message"],
            topic_key, message.message_id, body, message.content_type,
            message.correlation_id, encode_attributes(message.attributes), now, key_id,
            None if message.sns is None else message.sns.to_json(),
        )  # fmt: skip
        count = len(webhooks)
        await conn.execute(
            Q["insert_deliveries"],
            webhooks, [message_key] * count, [DeliveryKind.NOTIFICATION.value] * count,
            [new_webhook_id() for _ in webhooks], [now] * count,
        )  # fmt: skip
        txn.after_commit(lambda: self._deliveries_ready(webhooks))

    @staticmethod
    async def _queue_subscription_failed(txn: Txn, subscription_key: int, error: str) -> None:
        await txn.conn.execute(Q["queue_subscription_failed"], txn.now_ms, error, subscription_key)
