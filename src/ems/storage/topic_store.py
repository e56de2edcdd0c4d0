"""Topics and their subscriptions, as a store keeps them: part of :class:`ems.storage.base.Store`
(:mod:`ems.storage.roles` and each driver's ``topics`` module implement it)."""

from __future__ import annotations

import abc

from ems.core.sns_models import SnsSubscription
from ems.core.topic_models import (
    DeliveryPolicy,
    FilterPolicy,
    NewSubscription,
    PublishResult,
    SubscriptionRecord,
    TopicConfig,
    TopicMessage,
    TopicRecord,
    TopicStats,
)


class TopicStore(abc.ABC):
    """Topics, subscriptions and publishing."""

    @abc.abstractmethod
    async def create_topic(
        self,
        topic_hash: bytes,
        public_id: str,
        config: TopicConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> TopicRecord: ...

    @abc.abstractmethod
    async def get_topic(self, topic_hash: bytes) -> TopicRecord:
        """Raise TopicNotFound."""

    @abc.abstractmethod
    async def topic_stats(self, topic_hash: bytes) -> TopicStats: ...

    @abc.abstractmethod
    async def delete_topic(self, topic_hash: bytes) -> None:
        """Delete the topic, its subscriptions and every push not yet made."""

    @abc.abstractmethod
    async def subscribe(
        self, topic_hash: bytes, subscription: NewSubscription
    ) -> SubscriptionRecord:
        """Add a subscription, or return the existing one for the same endpoint.

        A webhook subscription waiting for confirmation gets its confirmation request queued in
        the same transaction. Raise QueueNotFound for an unknown queue or dead-letter queue.
        """

    @abc.abstractmethod
    async def list_subscriptions(self, topic_hash: bytes) -> list[SubscriptionRecord]: ...

    @abc.abstractmethod
    async def get_subscription(self, topic_hash: bytes, subscription_id: str) -> SubscriptionRecord:
        """Raise SubscriptionNotFound."""

    @abc.abstractmethod
    async def unsubscribe(self, topic_hash: bytes, subscription_id: str) -> None:
        """Delete the subscription and the pushes not yet made to it."""

    @abc.abstractmethod
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
        """Replace what a subscription filters and how it delivers (SNS's
        SetSubscriptionAttributes); raise SubscriptionNotFound, or QueueNotFound if
        ``dead_letter_hash`` names no queue."""

    @abc.abstractmethod
    async def find_subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        """The subscription with this id in any topic (for unsubscribe links, which carry no
        topic id), or None."""

    @abc.abstractmethod
    async def remove_subscription(self, subscription_id: str) -> None:
        """:meth:`unsubscribe` by the subscription's id alone; raise SubscriptionNotFound."""

    @abc.abstractmethod
    async def confirm_subscription(self, challenge: str) -> SubscriptionRecord:
        """Confirm the subscription waiting with this challenge; raise ConfirmationNotFound."""

    @abc.abstractmethod
    async def publish(self, topic_hash: bytes, message: TopicMessage) -> PublishResult:
        """In one transaction: the message into every matching queue, one push per webhook.

        A queue that cannot take the message (too large for it, or full) is skipped and the
        failure recorded on its subscription: one subscriber must not block the others.
        """
