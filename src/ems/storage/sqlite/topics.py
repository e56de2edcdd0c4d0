"""Topics in the SQLite store: reading a topic by id (from the cache) and the atomic fan-out of a
publish; the rest of topics and subscriptions is :mod:`ems.storage.roles.topics`."""

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
from ems.storage.rows import encode_attributes
from ems.storage.sqlite.base import Wake
from ems.storage.sqlite.fifo_topics import FifoFanout
from ems.storage.sqlite.lookups import lookup_topic, queue_by_key, topic_in
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn
from ems.storage.topic_rows import FanoutTarget, fanout_target, new_webhook_id

_QUEUE = SubscriptionProtocol.QUEUE.value
_EMAIL = SubscriptionProtocol.EMAIL.value


class TopicOperations(FifoFanout):
    async def get_topic(self, topic_hash: bytes) -> TopicRecord:
        # topics never change, they only go away: a cached record is exact until deletion
        record = self._topics.get(topic_hash)
        if record is None:
            epoch = self._cache_epoch
            record = await self._read(lambda conn: lookup_topic(conn, topic_hash))
            if epoch == self._cache_epoch:
                self._topics[topic_hash] = record
        return record

    # publishing

    async def publish(self, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        self.health.check_room()
        return await self._write(lambda txn: self._publish(txn, topic_hash, message))

    def _fanout(self, txn: Txn, topic_key: int) -> list[FanoutTarget]:
        memo_key = ("fanout", topic_key)
        fanout: list[FanoutTarget] | None = txn.memo.get(memo_key)
        if fanout is None:
            fanout = txn.memo[memo_key] = [
                fanout_target(row) for row in txn.conn.execute(Q["topic_fanout"], (topic_key,))
            ]
        return fanout

    def _publish(self, txn: Txn, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        now = txn.now_ms
        topic = topic_in(txn, topic_hash)
        copy = NewMessage(
            message.message_id, message.body, message.correlation_id, message.attributes
        )
        rows: list[tuple[Any, ...]] = []
        wake: Wake = {}
        queues = skipped = 0
        webhooks = []
        emails = 0
        for target in self._fanout(txn, topic.key):
            if not target.confirmed or not matches(target.filter_policy, message):
                continue
            if target.protocol != _QUEUE:
                webhooks.append(target.key)
                emails += target.protocol == _EMAIL
                continue
            key, queue_key, sns = target.key, target.queue_key, target.sns
            assert queue_key is not None
            queue = queue_by_key(txn, queue_key)
            if queue is None:
                continue
            # a queue that cannot take the message is skipped and the failure recorded on its
            # subscription: one subscriber must not block a topic for all the others
            queue_copy = copy if sns is None else sns_envelopes.queue_copy(message, sns)
            size = queue_copy.size
            limit = queue.record.config.max_message_bytes
            if size > limit:
                self._queue_subscription_failed(
                    txn, key, f"message of {size} bytes; the queue accepts at most {limit}"
                )
                skipped += 1
                continue
            fifo_key = None
            if queue.record.config.fifo is not None or message.group_id is not None:
                fifo = self._fifo_copy(txn, key, queue, message, queue_copy)
                if isinstance(fifo, int):  # not stored: a duplicate there, or refused
                    skipped += fifo
                    continue
                queue_copy, fifo_key = fifo
            mark = len(rows)
            stored, receivable = self._message_rows(queue, (queue_copy,), now, rows)
            if self._reserve(txn, queue, 1, stored) is not None:
                del rows[mark:]
                if fifo_key is not None:
                    self._unclaim(txn, queue, fifo_key)
                self._queue_subscription_failed(txn, key, "the queue is full")
                skipped += 1
                continue
            if receivable:
                wake.setdefault(queue.record.key, []).extend(receivable)
            queues += 1
        self._insert_messages(txn, rows, wake)
        self._record_pushes(txn, topic.key, message, webhooks)
        return PublishResult(
            queues=queues, webhooks=len(webhooks) - emails, skipped=skipped, emails=emails
        )

    def _record_pushes(
        self, txn: Txn, topic_key: int, message: TopicMessage, webhooks: list[int]
    ) -> None:
        """Keep the message for the webhook and email subscriptions, and queue their pushes."""
        if not webhooks:
            return
        conn, now = txn.conn, txn.now_ms
        attributes = encode_attributes(message.attributes)
        sns_text = None if message.sns is None else message.sns.to_json()
        body, key_id = (
            (message.body, None) if self._cipher is None else self._cipher.seal(message.body)
        )
        message_key = conn.execute(
            Q["insert_topic_message"],
            (topic_key, message.message_id, body, message.content_type,
             message.correlation_id, attributes, now, key_id, sns_text),
        ).lastrowid  # fmt: skip
        conn.executemany(
            Q["insert_delivery"],
            [(key, message_key, DeliveryKind.NOTIFICATION.value, new_webhook_id(), now)
             for key in webhooks],
        )  # fmt: skip
        txn.after_commit(lambda: self._deliveries_ready(webhooks))

    @staticmethod
    def _queue_subscription_failed(txn: Txn, subscription_key: int, error: str) -> None:
        txn.conn.execute(Q["queue_subscription_failed"], (txn.now_ms, error, subscription_key))
