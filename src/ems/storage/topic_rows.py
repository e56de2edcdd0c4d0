"""Topic, subscription and push rows as every store returns them, mapped to domain records
(see :mod:`ems.storage.rows`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from ems.core.sns_models import SnsMessage, SnsSubscription
from ems.core.topic_models import (
    DeliveryKind,
    DeliveryPolicy,
    DeliveryTask,
    FilterPolicy,
    NewSubscription,
    Status,
    SubscriptionProtocol,
    SubscriptionRecord,
    SubscriptionStats,
    TopicConfig,
    TopicMessage,
    TopicRecord,
)
from ems.storage.cipher import BodyCipher, open_body
from ems.storage.rows import fifo_settings


class TopicColumns(NamedTuple):
    """A topic row by name, in the drivers' column order."""

    key: int
    public_id: str
    max_message_bytes: int
    created_at: int
    fifo: str | None


def topic_record(row: Sequence[Any]) -> TopicRecord:
    t = TopicColumns._make(row)
    config = TopicConfig(
        max_message_bytes=t.max_message_bytes,
        fifo=None if t.fifo is None else fifo_settings(t.fifo),
    )
    return TopicRecord(t.key, t.public_id, config, t.created_at)


class TopicMessageColumns(NamedTuple):
    """A topic message row (``topic_message``) by name."""

    message_id: str
    body: bytes
    content_type: str | None
    correlation_id: str | None
    attributes: str | None
    published_at: int
    cipher: int | None
    sns: str | None


def topic_message(row: Sequence[Any], cipher: BodyCipher | None) -> tuple[TopicMessage, int]:
    """A topic message row as a message, and its publication time."""
    m = TopicMessageColumns._make(row)
    message = TopicMessage(
        message_id=m.message_id,
        body=open_body(cipher, bytes(m.body), m.cipher),
        content_type=m.content_type,
        correlation_id=m.correlation_id,
        attributes=json.loads(m.attributes) if m.attributes else None,
        sns=SnsMessage.from_json(m.sns),
    )
    return message, m.published_at


def subscription_values(sub: NewSubscription) -> tuple[str | None, str | None, str | None]:
    """How a new subscription's filter, delivery policy and SNS settings are stored."""
    policy = (
        json.dumps(asdict(sub.policy)) if sub.protocol is not SubscriptionProtocol.QUEUE else None
    )
    sns = sub.sns.to_json() if sub.sns is not None else None
    return (sub.filter_policy.stored() if sub.filter_policy else None), policy, sns


def update_values(
    filter_policy: FilterPolicy | None, policy: DeliveryPolicy | None, sns: SnsSubscription | None
) -> tuple[str | None, str | None, str | None]:
    """How a changed subscription's filter, delivery policy and SNS settings are stored."""
    return (
        filter_policy.stored() if filter_policy else None,
        json.dumps(asdict(policy)) if policy is not None else None,
        sns.to_json() if sns is not None else None,
    )


def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def parse_filter(text: str | None) -> FilterPolicy | None:
    return None if text is None else FilterPolicy.from_stored(text)


class SubscriptionColumns(NamedTuple):
    """A subscription row by name, in the drivers' column order."""

    key: int
    subscription_id: str
    protocol: str
    status: str
    filter_policy: str | None
    created_at: int
    queue_id_hash: bytes | None
    url: str | None
    policy: str | None
    signing_secret: str | None
    dead_letter_id_hash: bytes | None
    delivered: int
    failed: int
    pending: int
    attempts: int
    last_attempt_at: int | None
    last_status: int | None
    last_error: str | None
    last_success_at: int | None
    sns: str | None


def subscription_from_row(row: Sequence[Any], *, created: bool = True) -> SubscriptionRecord:
    s = SubscriptionColumns._make(row)
    return SubscriptionRecord(
        key=s.key,
        subscription_id=s.subscription_id,
        protocol=SubscriptionProtocol(s.protocol),
        status=Status(s.status),
        filter_policy=parse_filter(s.filter_policy),
        created_at_ms=s.created_at,
        queue_id_hash=bytes(s.queue_id_hash) if s.queue_id_hash is not None else None,
        url=s.url,
        policy=DeliveryPolicy(**json.loads(s.policy)) if s.policy else DeliveryPolicy(),
        signing_secret=s.signing_secret,
        dead_letter_id_hash=(
            bytes(s.dead_letter_id_hash) if s.dead_letter_id_hash is not None else None
        ),
        stats=SubscriptionStats(
            delivered=s.delivered,
            failed=s.failed,
            pending=s.pending,
            attempts=s.attempts,
            last_attempt_at_ms=s.last_attempt_at,
            last_status=s.last_status,
            last_error=s.last_error,
            last_success_at_ms=s.last_success_at,
        ),
        created=created,
        sns=SnsSubscription.from_json(s.sns),
    )


class DeliveryTargetColumns(NamedTuple):
    """A ``delivery_target`` row by name: a subscription's push settings and its topic's id."""

    subscription_id: str
    url: str
    signing_secret: str
    policy: str
    challenge: str | None
    confirm_url: str | None
    status: str
    topic_public_id: str
    sns: str | None


class DueDeliveryColumns(NamedTuple):
    """A delivery ``claim_deliveries`` leased, by name (``message_key`` null: a confirmation)."""

    key: int
    kind: str
    webhook_id: str
    attempts: int
    message_key: int | None


class FanoutColumns(NamedTuple):
    """A ``topic_fanout`` row by name: a subscription as a publish reads it."""

    key: int
    protocol: str
    status: str
    filter_policy: str | None
    queue_key: int | None
    sns: str | None


class FanoutTarget(NamedTuple):
    """A subscription as a publish fans out to it: a ``topic_fanout`` row, decoded (once per
    batch: the drivers keep a topic's targets for the rest of it)."""

    key: int
    protocol: str
    confirmed: bool
    filter_policy: FilterPolicy | None
    queue_key: int | None
    sns: SnsSubscription | None


def fanout_target(row: Sequence[Any]) -> FanoutTarget:
    s = FanoutColumns._make(row)
    return FanoutTarget(
        key=s.key,
        protocol=s.protocol,
        confirmed=s.status == Status.CONFIRMED.value,
        filter_policy=parse_filter(s.filter_policy),
        queue_key=s.queue_key,
        sns=SnsSubscription.from_json(s.sns),
    )


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """Where a subscription's pushes go: the ``delivery_target`` query's row, decoded."""

    subscription_key: int
    subscription_id: str
    url: str
    signing_secret: str
    policy: DeliveryPolicy
    challenge: str | None
    confirm_url: str | None
    status: str
    topic_public_id: str
    sns: SnsSubscription | None

    @classmethod
    def from_row(cls, subscription_key: int, row: Sequence[Any]) -> DeliveryTarget:
        t = DeliveryTargetColumns._make(row)
        return cls(
            subscription_key=subscription_key,
            subscription_id=t.subscription_id,
            url=t.url,
            signing_secret=t.signing_secret,
            policy=DeliveryPolicy(**json.loads(t.policy)),
            challenge=t.challenge,
            confirm_url=t.confirm_url,
            status=t.status,
            topic_public_id=t.topic_public_id,
            sns=SnsSubscription.from_json(t.sns),
        )

    def lease_until(self, now_ms: int, margin_seconds: int) -> int:
        """The end of a claim: the push's own timeout, plus a margin for recording its outcome."""
        return now_ms + (self.policy.timeout_seconds + margin_seconds) * 1000

    def already_confirmed(self, kind: str) -> bool:
        """A pending confirmation push whose subscription was confirmed through its link."""
        return kind == DeliveryKind.CONFIRMATION and self.status == Status.CONFIRMED

    def task(
        self,
        due: DueDeliveryColumns,
        message_row: Sequence[Any] | None,
        cipher: BodyCipher | None,
    ) -> DeliveryTask | None:
        """The push for one claimed delivery; None for a notification whose message is gone
        (cannot happen: a message lives while it has deliveries)."""
        message, published_at = topic_message(message_row, cipher) if message_row else (None, None)
        if due.kind == DeliveryKind.NOTIFICATION and message is None:
            return None
        return DeliveryTask(
            delivery_key=due.key,
            kind=DeliveryKind(due.kind),
            webhook_id=due.webhook_id,
            attempt=due.attempts + 1,
            subscription_key=self.subscription_key,
            subscription_id=self.subscription_id,
            topic_public_id=self.topic_public_id,
            url=self.url,
            signing_secret=self.signing_secret,
            policy=self.policy,
            message=message,
            published_at_ms=published_at,
            challenge=self.challenge,
            confirm_url=self.confirm_url,
            sns=self.sns,
        )
