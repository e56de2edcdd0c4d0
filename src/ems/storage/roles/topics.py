"""Topics and their subscriptions, for every driver: create, describe and delete topics;
subscribe, list, change, confirm and remove subscriptions.

Reading a topic by id (``get_topic``, from each driver's cache) and publishing (the fan-out, on
each driver's hot path) stay with the drivers. Subscribing again to the same endpoint returns the
subscription there is; on PostgreSQL two nodes subscribing it at once end with one (the insert
does nothing when the other node's is there, and the second reads the first's).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable

from ems.core.errors import ConfirmationNotFound, QueueNotFound, SubscriptionNotFound
from ems.core.sns_models import SnsSubscription
from ems.core.topic_models import (
    DeliveryKind,
    DeliveryPolicy,
    FilterPolicy,
    NewSubscription,
    Status,
    SubscriptionProtocol,
    SubscriptionRecord,
    TopicConfig,
    TopicRecord,
    TopicStats,
)
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.roles.lookups import lookup_topic, queue_in, topic_in
from ems.storage.roles.queues import within_quota
from ems.storage.rows import fifo_value
from ems.storage.topic_rows import (
    new_webhook_id,
    subscription_from_row,
    subscription_values,
    update_values,
)


async def _subscription(db: Statements, key: int, *, created: bool = True) -> SubscriptionRecord:
    row = await db.row("subscription_by_key", key)
    if row is None:  # deleted by another node in the meantime
        raise SubscriptionNotFound()
    return subscription_from_row(row, created=created)


class Topics(Driver):
    @abstractmethod
    def _forget_topic(self, topic_hash: bytes) -> None:
        """Drop the topic's cached record (on every node, or every worker)."""

    @abstractmethod
    def _deliveries_ready(self, subscription_keys: Iterable[int]) -> None: ...

    async def create_topic(
        self,
        topic_hash: bytes,
        public_id: str,
        config: TopicConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> TopicRecord:
        async def operation(txn: Transaction) -> TopicRecord:
            await within_quota(txn, "topics", owner, quota)
            key = await txn.db.value(
                "insert_topic",
                topic_hash, public_id, config.max_message_bytes, txn.now_ms, owner,
                fifo_value(config.fifo),
            )  # fmt: skip
            return TopicRecord(key, public_id, config, txn.now_ms)

        return await self._transact(operation)

    async def topic_stats(self, topic_hash: bytes) -> TopicStats:
        async def query(db: Statements) -> TopicStats:
            key = (await lookup_topic(db, topic_hash)).key
            row = await db.row("topic_stats", key)
            if row is None:
                return TopicStats(0, 0, 0, 0)
            return TopicStats(*(count or 0 for count in row))

        return await self._query(query)

    async def delete_topic(self, topic_hash: bytes) -> None:
        async def operation(txn: Transaction) -> None:
            key = (await topic_in(txn, topic_hash)).key
            for name in ("delete_topic_deliveries", "delete_topic_subscriptions",
                         "delete_topic_messages", "delete_topic"):  # fmt: skip
                await txn.db.run(name, key)
            await txn.db.run("forget_idempotency_keys", -key)  # a topic's, negated
            txn.memo.clear()
            txn.after_commit(lambda: self._forget_topic(topic_hash))

        await self._transact(operation)

    async def subscribe(
        self, topic_hash: bytes, subscription: NewSubscription
    ) -> SubscriptionRecord:
        async def operation(txn: Transaction) -> SubscriptionRecord:
            return await self._subscribe(txn, topic_hash, subscription)

        return await self._transact(operation)

    async def _subscribe(
        self, txn: Transaction, topic_hash: bytes, sub: NewSubscription
    ) -> SubscriptionRecord:
        db = txn.db
        topic = await topic_in(txn, topic_hash)
        queue_key = dead_letter_key = None
        existing: tuple[str, int, int | str | None]
        if sub.protocol is SubscriptionProtocol.QUEUE:
            assert sub.queue_hash is not None
            queue_key = (await queue_in(txn, sub.queue_hash)).record.key
            existing = ("existing_queue_subscription", topic.key, queue_key)
        else:
            if sub.dead_letter_hash is not None:
                try:
                    dead_letter_key = (await queue_in(txn, sub.dead_letter_hash)).record.key
                except QueueNotFound:
                    raise QueueNotFound("dead_letter_queue_id names no queue.") from None
            existing = ("existing_http_subscription", topic.key, sub.url)
        found = await db.value(*existing)
        if found is not None:  # subscribing again returns the subscription there is
            return await _subscription(db, found, created=False)
        status = Status.CONFIRMED if sub.confirmed else Status.PENDING
        filter_text, policy_text, sns_text = subscription_values(sub)
        key = await db.value(
            "insert_subscription",
            topic.key, sub.subscription_id, sub.protocol.value, status.value, filter_text,
            queue_key, sub.url, policy_text, sub.signing_secret, sub.challenge,
            sub.confirm_url, dead_letter_key, txn.now_ms, sns_text,
        )  # fmt: skip
        if key is None:  # another node subscribed the same endpoint a moment ago
            return await _subscription(db, await db.value(*existing), created=False)
        if status is Status.PENDING:
            await db.run(
                "insert_delivery",
                key, None, DeliveryKind.CONFIRMATION.value, new_webhook_id(), txn.now_ms,
            )  # fmt: skip
            txn.after_commit(lambda: self._deliveries_ready([key]))
        txn.memo.clear()
        return await _subscription(db, key)

    async def list_subscriptions(self, topic_hash: bytes) -> list[SubscriptionRecord]:
        async def query(db: Statements) -> list[SubscriptionRecord]:
            key = (await lookup_topic(db, topic_hash)).key
            return [
                subscription_from_row(row) for row in await db.rows("subscriptions_in_topic", key)
            ]

        return await self._query(query)

    async def get_subscription(self, topic_hash: bytes, subscription_id: str) -> SubscriptionRecord:
        async def query(db: Statements) -> SubscriptionRecord:
            key = (await lookup_topic(db, topic_hash)).key
            row = await db.row("subscription_in_topic", key, subscription_id)
            if row is None:
                raise SubscriptionNotFound()
            return subscription_from_row(row)

        return await self._query(query)

    async def unsubscribe(self, topic_hash: bytes, subscription_id: str) -> None:
        async def operation(txn: Transaction) -> None:
            topic = await topic_in(txn, topic_hash)
            found = await txn.db.value("subscription_key_in_topic", topic.key, subscription_id)
            await _remove_subscription(txn, found)

        await self._transact(operation)

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
        async def operation(txn: Transaction) -> SubscriptionRecord:
            db = txn.db
            topic = await topic_in(txn, topic_hash)
            found = await db.value("subscription_key_in_topic", topic.key, subscription_id)
            if found is None:
                raise SubscriptionNotFound()
            dead_letter_key = (
                None
                if dead_letter_hash is None
                else (await queue_in(txn, dead_letter_hash)).record.key
            )
            filter_text, policy_text, sns_text = update_values(filter_policy, policy, sns)
            await db.run(
                "update_subscription", filter_text, policy_text, dead_letter_key, sns_text, found
            )
            txn.memo.clear()
            return await _subscription(db, found)

        return await self._transact(operation)

    async def find_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        async def query(db: Statements) -> SubscriptionRecord | None:
            row = await db.row("subscription_by_id", subscription_id)
            return None if row is None else subscription_from_row(row)

        return await self._query(query)

    async def remove_subscription(self, subscription_id: str) -> None:
        async def operation(txn: Transaction) -> None:
            found = await txn.db.value("subscription_key_by_id", subscription_id)
            await _remove_subscription(txn, found)

        await self._transact(operation)

    async def confirm_subscription(self, challenge: str) -> SubscriptionRecord:
        async def operation(txn: Transaction) -> SubscriptionRecord:
            row = await txn.db.row("confirm_by_challenge", challenge)
            if row is None:
                raise ConfirmationNotFound()
            await txn.db.run("delete_confirmations", row[0])
            txn.memo.clear()
            return await _subscription(txn.db, row[0])

        return await self._transact(operation)


async def _remove_subscription(txn: Transaction, found: int | None) -> None:
    """Delete a subscription (``found``: its key, or None for SubscriptionNotFound), its pushes
    not yet made, and the messages no other push needs."""
    if found is None:
        raise SubscriptionNotFound()
    db = txn.db
    messages = {row[0] for row in await db.rows("delete_subscription_deliveries", found)}
    await db.run("delete_subscription", found)
    for message_key in messages - {None}:
        await db.run("delete_message_if_done", message_key)
    txn.memo.clear()
