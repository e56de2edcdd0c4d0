"""The topic service: topics, subscriptions, filter policies and publishing, without HTTP or SQL.

Topic ids are capabilities exactly like queue ids. A topic also has a ``public_id`` that names it
to webhook endpoints: pushes and confirmation requests carry the public id, never the topic id,
so a subscribed endpoint can tell topics apart but cannot publish to, subscribe to or delete them.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ems.core import capabilities, fifo_topics, idempotency, limits, unsubscribe
from ems.core.email_address import check_email_address
from ems.core.errors import (
    ConfirmationNotFound,
    DeadLetterQueueNotFound,
    EmailNotConfigured,
    InvalidAttribute,
    InvalidRequest,
    MessageTooLarge,
    QueueNotFound,
    SubscriptionNotFound,
    TopicNotFound,
    UnsubscribeLinkNotFound,
    WrongCapability,
    quoted,
    redacted,
)
from ems.core.ids import new_message_id, queue_hash
from ems.core.models import IdScope
from ems.core.subscription_rules import (
    check_webhook_url,
    delivery_policy,
    display_name,
    parse_filter_policy,
)
from ems.core.topic_models import (
    NewSubscription,
    PublishResult,
    SubscriptionProtocol,
    SubscriptionRecord,
    TopicConfig,
    TopicMessage,
    TopicRecord,
    TopicStats,
)
from ems.storage.base import Store

CHALLENGE_BYTES: Final = 24
DEFAULT_TOPIC_MAX_BYTES: Final = TopicConfig().max_message_bytes
TOPIC_FIELDS: Final = frozenset({"max_message_bytes"}) | fifo_topics.TOPIC_ATTRIBUTES
QUEUE_OPTIONS: Final = frozenset({"filter_policy", "filter_policy_scope"})
HTTP_OPTIONS: Final = frozenset(
    {"filter_policy", "filter_policy_scope", "envelope", "max_attempts", "min_retry_seconds",
     "max_retry_seconds", "timeout_seconds", "max_concurrency", "dead_letter_queue_id"}
)  # fmt: skip

EMAIL_OPTIONS: Final = frozenset(
    {"filter_policy", "max_attempts", "min_retry_seconds", "max_retry_seconds",
     "dead_letter_queue_id", "display_name"}
)  # fmt: skip
EMAIL_TIMEOUT_SECONDS: Final = 30

UrlCheck = Callable[[str], Awaitable[None]]
# hands a committed publish to the topic's live streams
LiveDelivery = Callable[[bytes, TopicMessage], None]


@dataclass(frozen=True, slots=True)
class TopicView:
    topic_id: str
    record: TopicRecord


def topic_hash(topic_id: str) -> bytes:
    if not capabilities.looks_like_id(topic_id):
        raise TopicNotFound()
    return capabilities.id_hash(topic_id)


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_fields(document: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise InvalidRequest(
            f"Unknown {what} option(s): {', '.join(quoted(name) for name in unknown[:5])}. "
            f"Known: {', '.join(sorted(allowed))}.",
            parameter=redacted(unknown[0]),
        )


def _options(document: object | None, allowed: frozenset[str], what: str) -> dict[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidRequest(f"The body must be a JSON object of {what} options.")
    _check_fields(document, allowed, what)
    return document


class TopicService:
    def __init__(
        self,
        store: Store,
        *,
        check_url: UrlCheck,
        skip_confirmation: bool = False,
        id_prefix: str = "",
        live: LiveDelivery | None = None,
        email_base: str | None = None,
    ) -> None:
        """``email_base``: where people reach this server, for the links in mails; None when
        this server sends no email."""
        self.store = store
        self._email_base = email_base.rstrip("/") if email_base else None
        self._id_prefix = id_prefix
        self._check_url = check_url
        self._skip_confirmation = skip_confirmation
        # the topic streams open on this node (core/stream_hub.py): told of each publish
        self._live = live

    async def create_topic(
        self, document: object | None, *, owner: str | None = None, quota: int | None = None
    ) -> TopicView:
        options = _options(document, TOPIC_FIELDS, "topic")
        config = TopicConfig(
            max_message_bytes=limits.MAX_MESSAGE_BYTES.check(
                options.get("max_message_bytes", DEFAULT_TOPIC_MAX_BYTES),
                error=InvalidAttribute,
            ),
            fifo=fifo_topics.settings_from(options),
        )
        topic_id = capabilities.new_id(self._id_prefix)
        public_id = "topic-" + secrets.token_urlsafe(12)
        record = await self.store.create_topic(
            capabilities.id_hash(topic_id), public_id, config, owner=owner, quota=quota
        )
        return TopicView(topic_id, record)

    async def get_topic(self, topic_id: str) -> TopicRecord:
        return await self.store.get_topic(topic_hash(topic_id))

    async def describe_topic(self, topic_id: str) -> tuple[TopicRecord, TopicStats]:
        h = topic_hash(topic_id)
        return await self.store.get_topic(h), await self.store.topic_stats(h)

    async def delete_topic(self, topic_id: str) -> None:
        await self.store.delete_topic(topic_hash(topic_id))

    async def subscribe_queue(
        self, topic_id: str, queue_id: str, document: object | None
    ) -> SubscriptionRecord:
        h = topic_hash(topic_id)
        options = _options(document, QUEUE_OPTIONS, "queue subscription")
        topic = await self.store.get_topic(h)
        target = await self._sendable(queue_id, "queue_id")
        queue = await self.store.get_queue(target)
        fifo_topics.check_queue_subscription(topic.config.fifo, queue.config.fifo)
        subscription = NewSubscription(
            subscription_id=_new_subscription_id(),
            protocol=SubscriptionProtocol.QUEUE,
            filter_policy=parse_filter_policy(
                options.get("filter_policy"), options.get("filter_policy_scope")
            ),
            queue_hash=target,
        )
        return await self.store.subscribe(h, subscription)

    async def subscribe_url(
        self, topic_id: str, url: str, document: object | None, *, confirm_base: str | None
    ) -> SubscriptionRecord:
        """Subscribe a webhook. ``confirm_base`` is where people reach this server, for the
        ``confirm_url``; None leaves the link out (the endpoint confirms by echoing the
        challenge)."""
        h = topic_hash(topic_id)
        topic = await self.store.get_topic(h)  # an unknown topic is 404 before any network check
        fifo_topics.refuse_push(topic.config.fifo, "url")
        options = _options(document, HTTP_OPTIONS, "webhook subscription")
        policy = delivery_policy(
            options, envelope=_boolean(options.get("envelope", False), "envelope")
        )
        dead_letter_id = await self._dead_letter(options)
        await self._check_url(check_webhook_url(url))
        # the confirmation link carries the shard prefix like every id, so that a proxy routing
        # by prefix sends /ems/topic/confirm/<token> to the shard that holds the subscription
        challenge = capabilities.new_id(self._id_prefix, CHALLENGE_BYTES)
        confirming = not self._skip_confirmation
        subscription = NewSubscription(
            subscription_id=_new_subscription_id(),
            protocol=SubscriptionProtocol.HTTP,
            filter_policy=parse_filter_policy(
                options.get("filter_policy"), options.get("filter_policy_scope")
            ),
            url=url,
            policy=policy,
            signing_secret=new_signing_secret(),
            confirmed=not confirming,
            challenge=challenge if confirming else None,
            confirm_url=(
                f"{confirm_base}/ems/topic/confirm/{challenge}"
                if confirming and confirm_base is not None
                else None
            ),
            dead_letter_hash=capabilities.id_hash(dead_letter_id) if dead_letter_id else None,
        )
        return await self.store.subscribe(h, subscription)

    async def subscribe_email(
        self, topic_id: str, address: str, document: object | None
    ) -> SubscriptionRecord:
        """Subscribe an email address: always double opt-in (a confirmation mail with a link,
        and nothing else until it is opened), whatever --webhook-skip-confirmation says: a
        mailbox, unlike a webhook, belongs to someone other than the topic's holder."""
        h = topic_hash(topic_id)
        topic = await self.store.get_topic(h)
        fifo_topics.refuse_push(topic.config.fifo, "email")
        if self._email_base is None:
            raise EmailNotConfigured(parameter="email")
        address = check_email_address(address)
        options = _options(document, EMAIL_OPTIONS, "email subscription")
        name = options.get("display_name")
        policy = delivery_policy(
            options,
            # one mail at a time per subscription, so they arrive in the order published
            max_concurrency=1,
            timeout_seconds=EMAIL_TIMEOUT_SECONDS,
            display_name=None if name is None else display_name(name),
        )
        dead_letter_id = await self._dead_letter(options)
        challenge = capabilities.new_id(self._id_prefix, CHALLENGE_BYTES)
        subscription = NewSubscription(
            subscription_id=_new_subscription_id(),
            protocol=SubscriptionProtocol.EMAIL,
            filter_policy=parse_filter_policy(options.get("filter_policy")),
            url="mailto:" + address,
            policy=policy,
            # never shown for email: the key of the subscription's unsubscribe link
            signing_secret=new_signing_secret(),
            confirmed=False,
            challenge=challenge,
            confirm_url=f"{self._email_base}/ems/topic/confirm/{challenge}",
            dead_letter_hash=capabilities.id_hash(dead_letter_id) if dead_letter_id else None,
        )
        return await self.store.subscribe(h, subscription)

    async def unsubscribe_by_link(self, token: str) -> SubscriptionRecord:
        """Remove the email subscription an unsubscribe link names (core/unsubscribe.py)."""
        subscription_id = unsubscribe.subscription_of(token)
        if subscription_id is None:
            raise UnsubscribeLinkNotFound()
        record = await self.store.find_subscription(subscription_id)
        if (
            record is None
            or record.protocol is not SubscriptionProtocol.EMAIL
            or record.signing_secret is None
            or not unsubscribe.verify(token, subscription_id, record.signing_secret)
        ):
            raise UnsubscribeLinkNotFound()
        try:
            await self.store.remove_subscription(subscription_id)
        except SubscriptionNotFound:
            raise UnsubscribeLinkNotFound() from None
        return record

    async def _dead_letter(self, options: Mapping[str, Any]) -> str | None:
        dead_letter_id = options.get("dead_letter_queue_id")
        if dead_letter_id is not None:
            if not isinstance(dead_letter_id, str):
                raise InvalidRequest(
                    "dead_letter_queue_id must be a string: the queue_id or send_id of a queue.",
                    parameter="dead_letter_queue_id",
                )
            await self._sendable(dead_letter_id, "dead_letter_queue_id")
        return dead_letter_id

    async def _sendable(self, queue_id: str, what: str) -> bytes:
        """A queue this topic may send into: its queue_id or send_id, not its receive_id."""
        try:
            h = queue_hash(queue_id)
            record = await self.store.get_queue(h)
        except QueueNotFound:
            # say which parameter: a subscribe names up to two queues besides the topic in its path
            detail = f"{what} names no queue; it was deleted or never existed."
            if what == "dead_letter_queue_id":
                raise DeadLetterQueueNotFound(detail, parameter=what) from None
            raise QueueNotFound(detail, parameter=what) from None
        if record.scope is IdScope.RECEIVE:
            raise WrongCapability(
                f"{what} is a receive_id, which may only receive; a topic sends into the "
                "queue: use its queue_id or send_id."
            )
        return h

    async def subscriptions(self, topic_id: str) -> list[SubscriptionRecord]:
        return await self.store.list_subscriptions(topic_hash(topic_id))

    async def subscription(self, topic_id: str, subscription_id: str) -> SubscriptionRecord:
        return await self.store.get_subscription(topic_hash(topic_id), subscription_id)

    async def unsubscribe(self, topic_id: str, subscription_id: str) -> None:
        await self.store.unsubscribe(topic_hash(topic_id), subscription_id)

    async def confirm(self, challenge: str) -> SubscriptionRecord:
        if not 16 <= len(challenge) <= 64:
            raise ConfirmationNotFound()
        return await self.store.confirm_subscription(challenge)

    async def publish(
        self, topic_id: str, message: TopicMessage, key_hash: bytes | None = None
    ) -> PublishResult:
        """Publish; with a key hash (an idempotency key, or a FIFO topic's deduplication key), a
        repeat within 5 minutes stores nothing and answers the original's id."""
        h = topic_hash(topic_id)
        if key_hash is None:
            result = await self.store.publish(h, message)
        else:
            result = await self.store.publish_idempotent(
                h, message, key_hash, idempotency.WINDOW_MS
            )
        if self._live is not None and result.duplicate_of is None:
            self._live(h, message)  # after the commit: a stream never shows what was refused
        return result

    async def topic_for_streaming(self, topic_id: str) -> bytes:
        """The hash a topic stream listens on, once the topic is known to exist."""
        h = topic_hash(topic_id)
        await self.store.get_topic(h)
        return h

    @staticmethod
    def endpoint(record: SubscriptionRecord) -> str | None:
        """What a subscription delivers to, as the topic's holder may see it: the webhook URL,
        ``mailto:`` and the address, or the queue's reference (never an id of the queue)."""
        if record.url is not None:
            return record.url
        if record.queue_id_hash is not None:
            return capabilities.reference(record.queue_id_hash)
        return None

    @staticmethod
    def dead_letter_queue(record: SubscriptionRecord) -> str | None:
        """The reference of a webhook's dead-letter queue, if it has one."""
        if record.dead_letter_id_hash is None:
            return None
        return capabilities.reference(record.dead_letter_id_hash)


def new_topic_message(
    body: bytes,
    *,
    content_type: str | None,
    correlation_id: str | None,
    attributes: Mapping[str, str] | None,
    max_bytes: int,
) -> TopicMessage:
    message = TopicMessage(new_message_id(), body, content_type, correlation_id, attributes)
    if message.size > max_bytes:
        raise MessageTooLarge(
            f"The message is {message.size} bytes (body plus attributes); this topic accepts at "
            f"most {max_bytes}."
        )
    return message


def _new_subscription_id() -> str:
    return "sub-" + secrets.token_urlsafe(12)


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false; got {quoted(value)}.", parameter=name)
    return value
