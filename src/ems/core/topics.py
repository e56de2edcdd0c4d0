"""The topic service: topics, subscriptions, filter policies and publishing, without HTTP or SQL.

Topic ids are capabilities exactly like queue ids. A topic also has a ``public_id`` that names it
to webhook endpoints: pushes and confirmation requests carry the public id, never the topic id,
so a subscribed endpoint can tell topics apart but cannot publish to, subscribe to or delete them.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from ems.core import capabilities, limits
from ems.core.errors import (
    ConfirmationNotFound,
    DeadLetterQueueNotFound,
    InvalidAttribute,
    InvalidRequest,
    InvalidWebhookUrl,
    MessageTooLarge,
    QueueNotFound,
    TopicNotFound,
    WrongCapability,
    quoted,
    redacted,
)
from ems.core.filter_policy import FilterScope
from ems.core.models import Scope
from ems.core.queues import new_message_id, queue_hash
from ems.core.topic_models import (
    DeliveryPolicy,
    FilterPolicy,
    NewSubscription,
    Protocol,
    PublishResult,
    SubscriptionRecord,
    TopicConfig,
    TopicMessage,
    TopicRecord,
    TopicStats,
)
from ems.storage.base import Store

MAX_URL_CHARS: Final = 2048
CHALLENGE_BYTES: Final = 24
DEFAULT_TOPIC_MAX_BYTES: Final = TopicConfig().max_message_bytes
MAX_FILTER_KEYS: Final = 10
MAX_FILTER_VALUES: Final = 100
TOPIC_FIELDS: Final = frozenset({"max_message_bytes"})
QUEUE_OPTIONS: Final = frozenset({"filter_policy", "filter_policy_scope"})
HTTP_OPTIONS: Final = frozenset(
    {"filter_policy", "filter_policy_scope", "envelope", "max_attempts", "min_retry_seconds",
     "max_retry_seconds", "timeout_seconds", "max_concurrency", "dead_letter_queue_id"}
)  # fmt: skip
POLICY_BOUNDS: Final = {
    "max_attempts": limits.Bound("max_attempts", 1, 50, "attempts"),
    "min_retry_seconds": limits.Bound("min_retry_seconds", 1, 3600),
    "max_retry_seconds": limits.Bound("max_retry_seconds", 1, 86_400),
    "timeout_seconds": limits.Bound("timeout_seconds", 1, 30),
    "max_concurrency": limits.Bound("max_concurrency", 1, 100, "requests"),
}

UrlCheck = Callable[[str], Awaitable[None]]


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


def parse_filter_policy(value: object, scope: object = None) -> FilterPolicy | None:
    """A native subscription's policy: SNS's grammar (:mod:`ems.core.filter_policy`), whose
    simplest form is ``{"attribute": ["v1", "v2"], ...}``. In attribute scope the names ignore
    case, as message attributes do; the native API keeps its limits of 10 attributes and 100
    values in all."""
    if value is None:
        return None
    try:
        chosen = FilterScope(scope or FilterScope.ATTRIBUTES.value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidRequest(
            "filter_policy_scope must be MessageAttributes or MessageBody.",
            parameter="filter_policy_scope",
        ) from None
    if not isinstance(value, dict) or not value:
        raise InvalidRequest(
            "filter_policy must be an object of 1 to 10 attributes, each with a list of allowed "
            'values: {"color": ["red", "blue"]}.',
            parameter="filter_policy",
        )
    document = _folded(value) if chosen is FilterScope.ATTRIBUTES else value
    policy = FilterPolicy.parse(document, chosen, max_keys=MAX_FILTER_KEYS)
    total = _conditions(document)
    if total > MAX_FILTER_VALUES:
        raise InvalidRequest(
            f"filter_policy allows at most {MAX_FILTER_VALUES} values in all; got {total}.",
            parameter="filter_policy",
        )
    return policy


def _folded(document: dict[str, Any]) -> dict[str, Any]:
    """Attribute names in lower case (``$or`` branches too), checked as attribute names."""
    names = [name for name in document if name != "$or"]
    checked = limits.check_message_attributes(dict.fromkeys(names, ""))
    folded = dict(zip(checked, (document[n] for n in names), strict=True))
    branches = document.get("$or")
    if isinstance(branches, list) and all(isinstance(b, dict) and b for b in branches):
        folded["$or"] = [_folded(branch) for branch in branches]
    elif "$or" in document:
        folded["$or"] = branches
    return folded


def _conditions(node: object) -> int:
    if isinstance(node, dict):
        return sum(_conditions(value) for value in node.values())
    if isinstance(node, list):
        return sum(_conditions(v) if isinstance(v, dict | list) else 1 for v in node) or 1
    return 1


def matches(policy: FilterPolicy | None, message: TopicMessage) -> bool:
    """Whether a subscription with ``policy`` gets ``message``."""
    return policy is None or policy.matches(message.attributes, message.body)


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host that DNS can name; the SSRF guard checks where it
    leads separately."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidWebhookUrl(f"The webhook URL is longer than {MAX_URL_CHARS} characters.")
    if _UNSAFE_IN_URL.search(url):
        # urlsplit would quietly drop tabs and newlines, and a NUL cannot be stored (PostgreSQL
        # text): a URL that is not what it looks like is refused, not repaired
        raise InvalidWebhookUrl(
            "The webhook URL must not contain spaces or control characters; percent-encode them."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidWebhookUrl(f"The webhook URL is not valid: {error}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl(
            "The webhook URL must be an absolute http:// or https:// URL with a host; got "
            f"{quoted(url, 80)}."
        )
    if parts.fragment:
        raise InvalidWebhookUrl("The webhook URL must not have a #fragment.")
    del port
    _check_host(parts.hostname)
    return url


# C0 and C1 controls, DEL, and every Unicode space (a lone surrogate cannot be stored either)
_UNSAFE_IN_URL: Final = re.compile(r"[\x00-\x20\x7f-\x9f\s\ud800-\udfff]")


def _check_host(host: str) -> None:
    """A host name DNS can carry (RFC 1035: labels of 1 to 63 octets, 253 in all, after IDNA),
    or an IP literal; anything else would fail later, deep inside the resolver."""
    if ":" in host:  # an IPv6 literal: urlsplit has already taken the brackets off
        return
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise InvalidWebhookUrl(
            "The webhook URL's host is not a valid host name: each dot-separated label must be "
            "1 to 63 characters (after IDNA encoding)."
        ) from None
    if len(encoded.rstrip(b".")) > 253:
        raise InvalidWebhookUrl("The webhook URL's host name is longer than 253 characters.")


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
    ) -> None:
        self.store = store
        self._id_prefix = id_prefix
        self._check_url = check_url
        self._skip_confirmation = skip_confirmation

    async def create_topic(
        self, document: object | None, *, owner: str | None = None, quota: int | None = None
    ) -> TopicView:
        options = _options(document, TOPIC_FIELDS, "topic")
        config = TopicConfig(
            max_message_bytes=limits.MAX_MESSAGE_BYTES.check(
                options.get("max_message_bytes", DEFAULT_TOPIC_MAX_BYTES),
                error=InvalidAttribute,
            )
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
        target = await self._sendable(queue_id, "queue_id")
        subscription = NewSubscription(
            subscription_id=_new_subscription_id(),
            protocol=Protocol.QUEUE,
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
        await self.store.get_topic(h)  # an unknown topic is 404 before any network check
        options = _options(document, HTTP_OPTIONS, "webhook subscription")
        policy = DeliveryPolicy(
            envelope=_boolean(options.get("envelope", False), "envelope"),
            **{
                name: bound.check(options[name])
                for name, bound in POLICY_BOUNDS.items()
                if name in options
            },
        )
        if policy.min_retry_seconds > policy.max_retry_seconds:
            raise InvalidRequest(
                "min_retry_seconds must not exceed max_retry_seconds.",
                parameter="min_retry_seconds",
            )
        dead_letter_id = options.get("dead_letter_queue_id")
        if dead_letter_id is not None:
            if not isinstance(dead_letter_id, str):
                raise InvalidRequest(
                    "dead_letter_queue_id must be a string: the queue_id or send_id of a queue.",
                    parameter="dead_letter_queue_id",
                )
            await self._sendable(dead_letter_id, "dead_letter_queue_id")
        await self._check_url(check_webhook_url(url))
        # the confirmation link carries the shard prefix like every id, so that a proxy routing
        # by prefix sends /ems/topic/confirm/<token> to the shard that holds the subscription
        challenge = capabilities.new_id(self._id_prefix, CHALLENGE_BYTES)
        confirming = not self._skip_confirmation
        subscription = NewSubscription(
            subscription_id=_new_subscription_id(),
            protocol=Protocol.HTTP,
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
        if record.scope is Scope.RECEIVE:
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

    async def publish(self, topic_id: str, message: TopicMessage) -> PublishResult:
        h = topic_hash(topic_id)
        return await self.store.publish(h, message)

    @staticmethod
    def endpoint(record: SubscriptionRecord) -> str | None:
        """What a subscription delivers to, as the topic's holder may see it: the webhook URL,
        or the queue's reference (never an id of the queue)."""
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
