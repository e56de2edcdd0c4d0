"""Plain data of topics, subscriptions and webhook deliveries."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ems.core.fifo import FifoSettings
from ems.core.filter_policy import FilterPolicy
from ems.core.models import message_size
from ems.core.sns_models import SnsMessage, SnsSubscription

__all__ = ["FilterPolicy"]


class SubscriptionProtocol(enum.StrEnum):
    QUEUE = "queue"
    HTTP = "http"
    EMAIL = "email"


class Status(enum.StrEnum):
    CONFIRMED = "confirmed"
    PENDING = "pending_confirmation"


class DeliveryKind(enum.StrEnum):
    NOTIFICATION = "notification"
    CONFIRMATION = "confirmation"


@dataclass(frozen=True, slots=True)
class TopicConfig:
    max_message_bytes: int = 262_144
    # a FIFO topic's settings (None: a standard topic); its deduplication_scope "queue" means
    # topic-wide
    fifo: FifoSettings | None = None


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """A topic as the store knows it. ``public_id`` names it to subscribers without granting."""

    key: int
    public_id: str
    config: TopicConfig
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class TopicStats:
    queue_subscriptions: int
    http_confirmed: int
    http_pending: int
    pending_deliveries: int
    email_confirmed: int = 0
    email_pending: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a webhook or email subscription is pushed to."""

    envelope: bool = False  # a JSON envelope instead of the raw body
    max_attempts: int = 10
    min_retry_seconds: int = 10
    max_retry_seconds: int = 12 * 3600
    timeout_seconds: int = 10
    max_concurrency: int = 10
    # email: the name mails come from and their default subject (topics have no names)
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    subscription_id: str
    protocol: SubscriptionProtocol
    filter_policy: FilterPolicy | None = None
    # protocol QUEUE: the queue, by the hash of the id it was subscribed with
    queue_hash: bytes | None = None
    # protocol HTTP: the URL; protocol EMAIL: "mailto:" and the address
    url: str | None = None
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    signing_secret: str | None = None
    confirmed: bool = True
    challenge: str | None = None
    confirm_url: str | None = None
    dead_letter_hash: bytes | None = None
    sns: SnsSubscription | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    attempts: int = 0
    last_attempt_at_ms: int | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_success_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A subscription as the store knows it.

    The subscribed queue and the webhook's dead-letter queue are given by the hash of their full
    ids, from which only a non-secret reference is shown (:func:`ems.core.capabilities.reference`):
    the topic id must not lead to the ids of the queues it feeds.
    """

    key: int
    subscription_id: str
    protocol: SubscriptionProtocol
    status: Status
    filter_policy: FilterPolicy | None
    created_at_ms: int
    queue_id_hash: bytes | None
    url: str | None
    policy: DeliveryPolicy
    signing_secret: str | None
    dead_letter_id_hash: bytes | None
    stats: SubscriptionStats
    created: bool = True  # False when subscribing again returned the existing subscription
    sns: SnsSubscription | None = None


@dataclass(frozen=True, slots=True)
class TopicMessage:
    message_id: str
    body: bytes
    content_type: str | None = None
    correlation_id: str | None = None
    attributes: Mapping[str, str] | None = None
    # published through the SNS API (ems.sns)
    sns: SnsMessage | None = None
    # published to a FIFO topic: its message group, and its deduplication id (given, or the
    # body's SHA-256), which each subscribed FIFO queue deduplicates its copy by
    group_id: str | None = None
    deduplication_id: str | None = None

    @property
    def size(self) -> int:
        return message_size(self.body, self.attributes)


@dataclass(frozen=True, slots=True)
class PublishResult:
    queues: int  # subscribed queues that stored the message
    webhooks: int  # pushes recorded in the outbox
    # subscribed queues that matched but could not take it (too large for the queue, or the
    # queue full): each is recorded on its subscription, and the others still get the message
    skipped: int = 0
    emails: int = 0  # mails recorded in the outbox (email subscriptions)
    # an idempotent publish that repeated an earlier one: that one's message id (nothing stored)
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryTask:
    """One claimed push: everything the dispatcher needs to make the attempt."""

    delivery_key: int
    kind: DeliveryKind
    webhook_id: str
    attempt: int  # 1 for the first attempt
    subscription_key: int
    subscription_id: str
    topic_public_id: str
    url: str
    signing_secret: str
    policy: DeliveryPolicy
    message: TopicMessage | None
    published_at_ms: int | None
    challenge: str | None = None
    confirm_url: str | None = None
    sns: SnsSubscription | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What came of one attempt; ``retry_at_ms`` None with ``delivered`` False is final."""

    delivered: bool
    status: int | None = None
    error: str | None = None
    retry_at_ms: int | None = None
    confirmed: bool = False
    # held back (a recipient's rate limit), not attempted: due again at retry_at_ms, and the
    # attempt is not counted
    deferred: bool = False
