"""Topics in the PostgreSQL store: topics, subscriptions, and the atomic fan-out of a publish."""

from __future__ import annotations

from typing import Any

from ems.core import sns_envelopes
from ems.core.errors import ConfirmationNotFound, QueueNotFound, SubscriptionNotFound
from ems.core.models import NewMessage
from ems.core.sns_models import SnsSubscription
from ems.core.subscription_rules import matches
from ems.core.topic_models import (
    DeliveryKind,
    DeliveryPolicy,
    FilterPolicy,
    NewSubscription,
    Protocol,
    PublishResult,
    Status,
    SubscriptionRecord,
    TopicConfig,
    TopicMessage,
    TopicRecord,
    TopicStats,
)
from ems.storage.postgres.base import Conn, Wake, lookup_topic
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.fifo_topics import FifoFanout
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.roles.lookups import queue_by_key, queue_in, topic_in
from ems.storage.roles.queues import within_quota
from ems.storage.rows import encode_attributes, fifo_value
from ems.storage.topic_rows import (
    new_webhook_id,
    parse_filter,
    subscription_from_row,
    subscription_values,
    update_values,
)

_QUEUE = Protocol.QUEUE.value
_EMAIL = Protocol.EMAIL.value
_BY_KEY = Q["subscription_columns"] + " WHERE s.key = $1"
_IN_TOPIC = Q["subscription_columns"] + " WHERE s.topic_key = $1 ORDER BY s.key"
_ONE_IN_TOPIC = Q["subscription_columns"] + " WHERE s.topic_key = $1 AND s.subscription_id = $2"
_BY_ID = Q["subscription_columns"] + " WHERE s.subscription_id = $1"

# (subscription key, protocol, confirmed, filter policy, queue key, SNS settings)
_Fanout = tuple[int, str, bool, FilterPolicy | None, int | None, SnsSubscription | None]


async def _subscription(conn: Conn, key: int, *, created: bool = True) -> SubscriptionRecord:
    row = await conn.fetchrow(_BY_KEY, key)
    if row is None:  # deleted by another node in the meantime
        raise SubscriptionNotFound()
    return subscription_from_row(tuple(row), created=created)


class TopicOperations(FifoFanout):
    async def create_topic(
        self,
        topic_hash: bytes,
        public_id: str,
        config: TopicConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> TopicRecord:
        async def operation(txn: Txn) -> TopicRecord:
            await within_quota(txn, "topics", owner, quota)
            key = await txn.conn.fetchval(
                Q["insert_topic"],
                topic_hash, public_id, config.max_message_bytes, txn.now_ms, owner,
                fifo_value(config.fifo),
            )  # fmt: skip
            return TopicRecord(key, public_id, config, txn.now_ms)

        return await self._write(operation)

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

    async def topic_stats(self, topic_hash: bytes) -> TopicStats:
        async def query(conn: Conn) -> TopicStats:
            key = (await lookup_topic(conn, topic_hash)).key
            row = await conn.fetchrow(Q["topic_stats"], key)
            return TopicStats(*row) if row is not None else TopicStats(0, 0, 0, 0)

        return await self._read(query)

    async def delete_topic(self, topic_hash: bytes) -> None:
        async def operation(txn: Txn) -> None:
            key = (await topic_in(txn, topic_hash)).key
            for name in ("delete_topic_deliveries", "delete_topic_subscriptions",
                         "delete_topic_messages", "delete_topic"):  # fmt: skip
                await txn.conn.execute(Q[name], key)
            await txn.conn.execute(Q["forget_idempotency_keys"], -key)  # a topic's, negated
            txn.memo.clear()
            txn.after_commit(lambda: self._forget_topic(topic_hash))

        await self._write(operation)

    def _forget_topic(self, topic_hash: bytes) -> None:
        self._cache_epoch += 1
        self._topics.pop(topic_hash, None)

    async def subscribe(
        self, topic_hash: bytes, subscription: NewSubscription
    ) -> SubscriptionRecord:
        return await self._write(lambda txn: self._subscribe(txn, topic_hash, subscription))

    async def _subscribe(
        self, txn: Txn, topic_hash: bytes, sub: NewSubscription
    ) -> SubscriptionRecord:
        conn = txn.conn
        topic = await topic_in(txn, topic_hash)
        queue_key = dead_letter_key = None
        existing: tuple[str, int, int | str | None]
        if sub.protocol is Protocol.QUEUE:
            assert sub.queue_hash is not None
            queue_key = (await queue_in(txn, sub.queue_hash)).record.key
            existing = (Q["existing_queue_subscription"], topic.key, queue_key)
        else:
            if sub.dead_letter_hash is not None:
                try:
                    dead_letter_key = (await queue_in(txn, sub.dead_letter_hash)).record.key
                except QueueNotFound:
                    raise QueueNotFound("dead_letter_queue_id names no queue.") from None
            existing = (Q["existing_http_subscription"], topic.key, sub.url)
        found = await conn.fetchval(*existing)
        if found is not None:  # subscribing again returns the subscription there is
            return await _subscription(conn, found, created=False)
        status = Status.CONFIRMED if sub.confirmed else Status.PENDING
        filter_text, policy_text, sns_text = subscription_values(sub)
        key = await conn.fetchval(
            Q["insert_subscription"],
            topic.key, sub.subscription_id, sub.protocol.value, status.value, filter_text,
            queue_key, sub.url, policy_text, sub.signing_secret, sub.challenge,
            sub.confirm_url, dead_letter_key, txn.now_ms, sns_text,
        )  # fmt: skip
        if key is None:  # another node subscribed the same endpoint a moment ago
            return await _subscription(conn, await conn.fetchval(*existing), created=False)
        if status is Status.PENDING:
            await conn.execute(
                Q["insert_deliveries"],
                [key], [None], [DeliveryKind.CONFIRMATION.value], [new_webhook_id()],
                [txn.now_ms],
            )  # fmt: skip
            txn.after_commit(lambda: self._deliveries_ready([key]))
        txn.memo.clear()
        return await _subscription(conn, key)

    async def list_subscriptions(self, topic_hash: bytes) -> list[SubscriptionRecord]:
        async def query(conn: Conn) -> list[SubscriptionRecord]:
            key = (await lookup_topic(conn, topic_hash)).key
            return [subscription_from_row(tuple(row)) for row in await conn.fetch(_IN_TOPIC, key)]

        return await self._read(query)

    async def get_subscription(self, topic_hash: bytes, subscription_id: str) -> SubscriptionRecord:
        async def query(conn: Conn) -> SubscriptionRecord:
            key = (await lookup_topic(conn, topic_hash)).key
            row = await conn.fetchrow(_ONE_IN_TOPIC, key, subscription_id)
            if row is None:
                raise SubscriptionNotFound()
            return subscription_from_row(tuple(row))

        return await self._read(query)

    async def unsubscribe(self, topic_hash: bytes, subscription_id: str) -> None:
        async def operation(txn: Txn) -> None:
            conn = txn.conn
            topic = await topic_in(txn, topic_hash)
            found = await conn.fetchval(Q["subscription_key_in_topic"], topic.key, subscription_id)
            await self._remove_subscription(txn, found)

        await self._write(operation)

    async def update_subscription(
        self,
        topic_hash: bytes,
        subscription_id: str,
        *,
        filter_policy: FilterPolicy | None,
        policy: DeliveryPolicy | None,
        dead_letter_hash: bytes | None,
        sns: SnsSubscription | None,
    ) -> SubscriptionRecord:
        async def operation(txn: Txn) -> SubscriptionRecord:
            conn = txn.conn
            topic = await topic_in(txn, topic_hash)
            found = await conn.fetchval(Q["subscription_key_in_topic"], topic.key, subscription_id)
            if found is None:
                raise SubscriptionNotFound()
            dead_letter_key = (
                None
                if dead_letter_hash is None
                else (await queue_in(txn, dead_letter_hash)).record.key
            )
            filter_text, policy_text, sns_text = update_values(filter_policy, policy, sns)
            await conn.execute(
                Q["update_subscription"], filter_text, policy_text, dead_letter_key, sns_text, found
            )
            txn.memo.clear()
            return await _subscription(conn, found)

        return await self._write(operation)

    async def find_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        async def query(conn: Conn) -> SubscriptionRecord | None:
            row = await conn.fetchrow(_BY_ID, subscription_id)
            return None if row is None else subscription_from_row(tuple(row))

        return await self._read(query)

    async def remove_subscription(self, subscription_id: str) -> None:
        async def operation(txn: Txn) -> None:
            found = await txn.conn.fetchval(Q["subscription_key_by_id"], subscription_id)
            await self._remove_subscription(txn, found)

        await self._write(operation)

    @staticmethod
    async def _remove_subscription(txn: Txn, found: int | None) -> None:
        """Delete a subscription (``found``: its key, or None for SubscriptionNotFound), its
        pushes not yet made, and the messages no other push needs."""
        if found is None:
            raise SubscriptionNotFound()
        conn = txn.conn
        messages = {row[0] for row in await conn.fetch(Q["delete_subscription_deliveries"], found)}
        await conn.execute(Q["delete_subscription"], found)
        for message_key in messages - {None}:
            await conn.execute(Q["delete_message_if_done"], message_key)
        txn.memo.clear()

    async def confirm_subscription(self, challenge: str) -> SubscriptionRecord:
        async def operation(txn: Txn) -> SubscriptionRecord:
            row = await txn.conn.fetchrow(Q["confirm_by_challenge"], challenge)
            if row is None:
                raise ConfirmationNotFound()
            await txn.conn.execute(Q["delete_confirmations"], row[0])
            txn.memo.clear()
            return await _subscription(txn.conn, row[0])

        return await self._write(operation)

    # publishing

    async def publish(self, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        # raises (TopicNotFound) only before writing: no savepoint
        return await self._write(
            lambda txn: self._publish(txn, topic_hash, message), savepoint=False
        )

    async def _fanout(self, txn: Txn, topic_key: int) -> list[_Fanout]:
        memo_key = ("fanout", topic_key)
        fanout: list[_Fanout] | None = txn.memo.get(memo_key)
        if fanout is None:
            fanout = txn.memo[memo_key] = [
                (
                    key,
                    protocol,
                    status == Status.CONFIRMED.value,
                    parse_filter(policy),
                    queue_key,
                    SnsSubscription.from_json(sns),
                )
                for key, protocol, status, policy, queue_key, sns in await txn.conn.fetch(
                    Q["topic_fanout"], topic_key
                )
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
        for key, protocol, confirmed, policy, queue_key, sns in await self._fanout(txn, topic.key):
            if not confirmed or not matches(policy, message):
                continue
            if protocol != _QUEUE:
                webhooks.append(key)
                emails += protocol == _EMAIL
                continue
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
