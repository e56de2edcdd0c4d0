"""The topic service as the SNS API (:mod:`ems.sns`) uses it: subscriptions made with their SNS
settings, and changed in place (SetSubscriptionAttributes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ems.core import capabilities, fifo_topics
from ems.core.email_address import check_email_address
from ems.core.errors import EmailNotConfigured
from ems.core.filter_policy import FilterPolicy
from ems.core.ids import queue_hash
from ems.core.sns_models import SnsSubscription
from ems.core.subscription_rules import check_webhook_url
from ems.core.topic_models import (
    DeliveryPolicy,
    NewSubscription,
    SubscriptionProtocol,
    SubscriptionRecord,
)
from ems.core.topics import (
    CHALLENGE_BYTES,
    EMAIL_TIMEOUT_SECONDS,
    TopicService,
    _new_subscription_id,
    new_signing_secret,
    topic_hash,
)

# (subscription id, confirmation token or None) -> the SNS settings of a new subscription
SnsSettings = Callable[[str, str | None], SnsSubscription]


class SnsTopicService(TopicService):
    async def queue_is_fifo(self, queue_id: str) -> bool:
        """Whether the queue an SQS subscription names is a FIFO queue (SNS checks it first)."""
        record = await self.store.get_queue(queue_hash(queue_id))
        return record.config.fifo is not None

    async def subscribe_sns(
        self,
        topic_id: str,
        *,
        queue_id: str | None = None,
        url: str | None = None,
        email: str | None = None,
        filter_policy: FilterPolicy | None,
        policy: DeliveryPolicy,
        dead_letter_id: str | None,
        settings: SnsSettings,
    ) -> SubscriptionRecord:
        """Subscribe for the SNS API (:mod:`ems.sns`): a queue, or an HTTP(S) endpoint that
        confirms through ``SubscribeURL``, or an email address (``email``/``email-json``), which
        confirms through EMS's own confirmation mail, as native email subscriptions do (double
        opt-in always: a mailbox is not the topic holder's). ``settings`` makes the
        subscription's SNS settings from its id and confirmation token, chosen here."""
        h = topic_hash(topic_id)
        topic = await self.store.get_topic(h)
        if queue_id is None:
            fifo_topics.refuse_push(topic.config.fifo, "Endpoint")
        dead_letter = None
        if dead_letter_id is not None:
            dead_letter = await self._sendable(dead_letter_id, "dead_letter_queue_id")
        subscription_id = _new_subscription_id()
        if queue_id is not None:
            target = await self._sendable(queue_id, "queue_id")
            queue = await self.store.get_queue(target)
            fifo_topics.check_queue_subscription(topic.config.fifo, queue.config.fifo)
            subscription = NewSubscription(
                subscription_id=subscription_id,
                protocol=SubscriptionProtocol.QUEUE,
                filter_policy=filter_policy,
                queue_hash=target,
                sns=settings(subscription_id, None),
            )
            return await self.store.subscribe(h, subscription)
        if email is not None:
            return await self._subscribe_email(
                h, subscription_id, email, filter_policy, policy, dead_letter, settings
            )
        assert url is not None
        await self._check_url(check_webhook_url(url))
        challenge = capabilities.new_id(self._id_prefix, CHALLENGE_BYTES)
        confirming = not self._skip_confirmation
        sns = settings(subscription_id, challenge if confirming else None)
        subscription = NewSubscription(
            subscription_id=subscription_id,
            protocol=SubscriptionProtocol.HTTP,
            filter_policy=filter_policy,
            url=url,
            policy=policy,
            signing_secret=new_signing_secret(),
            confirmed=not confirming,
            challenge=challenge if confirming else None,
            confirm_url=(
                sns.confirmation.get("SubscribeURL") if confirming and sns.confirmation else None
            ),
            dead_letter_hash=dead_letter,
            sns=sns,
        )
        return await self.store.subscribe(h, subscription)

    async def _subscribe_email(  # noqa: PLR0917 (the parts subscribe_sns checked)
        self,
        h: bytes,
        subscription_id: str,
        address: str,
        filter_policy: FilterPolicy | None,
        policy: DeliveryPolicy,
        dead_letter: bytes | None,
        settings: SnsSettings,
    ) -> SubscriptionRecord:
        if self._email_base is None:
            raise EmailNotConfigured(parameter="Endpoint")
        address = check_email_address(address)
        challenge = capabilities.new_id(self._id_prefix, CHALLENGE_BYTES)
        subscription = NewSubscription(
            subscription_id=subscription_id,
            protocol=SubscriptionProtocol.EMAIL,
            filter_policy=filter_policy,
            url="mailto:" + address,
            # one mail at a time, so they arrive in the order published (as native email)
            policy=dataclasses.replace(
                policy, max_concurrency=1, timeout_seconds=EMAIL_TIMEOUT_SECONDS
            ),
            # never shown for email: the key of the subscription's unsubscribe link
            signing_secret=new_signing_secret(),
            confirmed=False,
            challenge=challenge,
            confirm_url=f"{self._email_base}/ems/topic/confirm/{challenge}",
            dead_letter_hash=dead_letter,
            # no SNS confirmation document: the confirmation is EMS's mail
            sns=settings(subscription_id, None),
        )
        return await self.store.subscribe(h, subscription)

    async def update_subscription(
        self,
        topic_id: str,
        record: SubscriptionRecord,
        *,
        filter_policy: FilterPolicy | None,
        policy: DeliveryPolicy | None,
        dead_letter_id: str | None,
        sns: SnsSubscription | None,
    ) -> SubscriptionRecord:
        dead_letter = None
        if dead_letter_id is not None:
            dead_letter = await self._sendable(dead_letter_id, "dead_letter_queue_id")
        return await self.store.update_subscription(
            topic_hash(topic_id),
            record.subscription_id,
            filter_policy=filter_policy,
            policy=policy,
            dead_letter_hash=dead_letter,
            sns=sns,
        )
