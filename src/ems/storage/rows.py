"""Rows as every store returns them, mapped to domain records.

Backends select the same columns in the same order, so these mappings (and what they decide,
such as decrypting bodies and counting a receive) are written once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Final

from ems.core.errors import MessageTooLarge, QueueFull
from ems.core.fifo import DeduplicationScope, FifoSettings, ThroughputLimit
from ems.core.models import (
    DeadLetter,
    NewMessage,
    QueueConfig,
    QueueRecord,
    ReceiveRequest,
    Scope,
    SqsQueue,
    StorageLimits,
    StoredMessage,
)
from ems.core.move_models import MoveStatus, MoveTask
from ems.core.sns_models import SnsMessage, SnsSubscription, SnsTopic
from ems.core.topic_models import (
    DeliveryKind,
    DeliveryPolicy,
    DeliveryTask,
    FilterPolicy,
    NewSubscription,
    Protocol,
    Status,
    SubscriptionRecord,
    SubscriptionStats,
    TopicConfig,
    TopicMessage,
    TopicRecord,
)
from ems.storage.cipher import BodyCipher, open_body

_EMPTY: Final[MappingProxyType[str, str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class QueueRow:
    record: QueueRecord
    partition: int
    dead_letter_key: int | None
    dead_letter_partition: int | None


def queue_from_row(row: tuple[Any, ...]) -> QueueRow:
    (key, partition, visibility, retention, max_bytes, delay, wait, dl_key, dl_hash,
     max_receives, sealed, created_at, dl_partition, max_stored_messages, max_stored_bytes,
     scope, label, deduplication_window, fifo) = row  # fmt: skip
    dead_letter = (
        DeadLetter(queue_hash=dl_hash, max_receives=max_receives, sealed_queue_id=sealed)
        if dl_key is not None and dl_hash is not None
        else None
    )
    config = QueueConfig(
        visibility_timeout=visibility,
        retention_seconds=retention,
        max_message_bytes=max_bytes,
        delay_seconds=delay,
        receive_wait_seconds=wait,
        dead_letter=dead_letter,
        max_stored_messages=max_stored_messages,
        max_stored_bytes=max_stored_bytes,
        deduplication_window_seconds=deduplication_window,
        fifo=None if fifo is None else fifo_settings(fifo),
        label=label,
    )
    record = QueueRecord(key, config, created_at, Scope(scope))
    return QueueRow(record, partition, dl_key, dl_partition)


def oversize(queue: QueueRow, messages: Iterable[NewMessage]) -> MessageTooLarge | None:
    limit = queue.record.config.max_message_bytes
    for message in messages:
        size = message.size
        if size > limit:
            return MessageTooLarge(
                f"A message is {size} bytes (body plus attributes); this queue accepts at most "
                f"{limit}."
            )
    return None


def message_rows(
    queue: QueueRow,
    messages: Iterable[NewMessage],
    now: int,
    rows: list[tuple[Any, ...]],
    cipher: BodyCipher | None,
) -> tuple[int, list[str | None]]:
    """Append the rows to insert for ``messages`` into ``queue`` (partition, visible_at,
    sent_at, message_id, correlation_id, attributes, body, cipher).

    Returns the bytes the bodies take as stored (sealed, with at-rest encryption on) and the
    correlation ids of the messages receivable at once (for waking long polls).
    """
    default_delay = queue.record.config.delay_seconds
    partition = queue.partition
    stored = 0
    receivable: list[str | None] = []
    for message in messages:
        delay = default_delay if message.delay_seconds is None else message.delay_seconds
        if delay == 0:
            receivable.append(message.correlation_id)
        body, key_id = (message.body, None) if cipher is None else cipher.seal(message.body)
        stored += len(body)
        rows.append(
            (partition, now + delay * 1000, now, message.message_id, message.correlation_id,
             encode_attributes(message.attributes), body, key_id, message.group_id)
        )  # fmt: skip
    return stored, receivable


def queue_full(queue: QueueRow, limits: StorageLimits) -> QueueFull:
    config = queue.record.config
    return QueueFull(
        "This queue holds as many messages as it may (at most "
        f"{config.max_stored_messages or limits.max_messages:,} messages and "
        f"{config.max_stored_bytes or limits.max_bytes:,} bytes); receive and delete messages "
        "to make room, or raise max_stored_messages / max_stored_bytes."
    )


def stored_message(
    row: Sequence[Any],
    visible_at: int,
    cipher: BodyCipher | None,
    *,
    received_at: int | None = None,
    group_id: str | None = None,
) -> StoredMessage:
    """A message row (seq, message_id, body, correlation_id, attributes, receive_count,
    sent_at, first_received_at, cipher); with ``received_at``, as its receiver sees it after
    this receive."""
    (seq, message_id, body, correlation_id, attributes, receive_count, sent_at,
     first_received, key_id) = row[:9]  # fmt: skip
    if received_at is not None:
        receive_count += 1
        first_received = first_received or received_at
    return StoredMessage(
        seq=seq,
        message_id=message_id,
        body=open_body(cipher, bytes(body), key_id),
        correlation_id=correlation_id,
        attributes=json.loads(attributes) if attributes else _EMPTY,
        receive_count=receive_count,
        sent_at_ms=sent_at,
        first_received_at_ms=first_received,
        visible_at_ms=visible_at,
        group_id=group_id,
    )


def receive_times(config: QueueConfig, request: ReceiveRequest, now: int) -> tuple[int, int]:
    """Until when a receive's messages stay invisible, and the send time before which messages
    are past retention."""
    timeout = (
        config.visibility_timeout
        if request.visibility_timeout is None
        else request.visibility_timeout
    )
    return now + timeout * 1000, now - config.retention_seconds * 1000


def fifo_value(settings: FifoSettings | None) -> str | None:
    """How a queue's FIFO settings are stored (null: a standard queue)."""
    return None if settings is None else json.dumps(asdict(settings), separators=(",", ":"))


def fifo_settings(text: str) -> FifoSettings:
    fields = json.loads(text)
    return FifoSettings(
        content_based_deduplication=fields["content_based_deduplication"],
        deduplication_scope=DeduplicationScope(fields["deduplication_scope"]),
        throughput_limit=ThroughputLimit(fields["throughput_limit"]),
    )


def topic_record(row: Sequence[Any]) -> TopicRecord:
    """A topic row (key, public_id, max_message_bytes, created_at, fifo) as a record."""
    key, public_id, max_bytes, created_at, fifo = row
    config = TopicConfig(
        max_message_bytes=max_bytes, fifo=None if fifo is None else fifo_settings(fifo)
    )
    return TopicRecord(key, public_id, config, created_at)


def topic_message(row: Sequence[Any], cipher: BodyCipher | None) -> tuple[TopicMessage, int]:
    """A topic message row (message_id, body, content_type, correlation_id, attributes,
    published_at, cipher, sns) and its publication time."""
    message_id, body, content_type, correlation_id, attributes, published_at, key_id, sns = row
    message = TopicMessage(
        message_id=message_id,
        body=open_body(cipher, bytes(body), key_id),
        content_type=content_type,
        correlation_id=correlation_id,
        attributes=json.loads(attributes) if attributes else None,
        sns=SnsMessage.from_json(sns),
    )
    return message, published_at


def encode_attributes(attributes: Any) -> str | None:
    return json.dumps(attributes, separators=(",", ":")) if attributes else None


def subscription_values(sub: NewSubscription) -> tuple[str | None, str | None, str | None]:
    """How a new subscription's filter, delivery policy and SNS settings are stored."""
    policy = json.dumps(asdict(sub.policy)) if sub.protocol is not Protocol.QUEUE else None
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


def subscription_from_row(row: tuple[Any, ...], *, created: bool = True) -> SubscriptionRecord:
    (key, subscription_id, protocol, status, filter_policy, created_at, queue_id_hash, url,
     policy, signing_secret, dead_letter_id_hash, delivered, failed, pending, attempts,
     last_attempt_at, last_status, last_error, last_success_at, sns) = row  # fmt: skip
    return SubscriptionRecord(
        key=key,
        subscription_id=subscription_id,
        protocol=Protocol(protocol),
        status=Status(status),
        filter_policy=parse_filter(filter_policy),
        created_at_ms=created_at,
        queue_id_hash=bytes(queue_id_hash) if queue_id_hash is not None else None,
        url=url,
        policy=DeliveryPolicy(**json.loads(policy)) if policy else DeliveryPolicy(),
        signing_secret=signing_secret,
        dead_letter_id_hash=(
            bytes(dead_letter_id_hash) if dead_letter_id_hash is not None else None
        ),
        stats=SubscriptionStats(
            delivered=delivered,
            failed=failed,
            pending=pending,
            attempts=attempts,
            last_attempt_at_ms=last_attempt_at,
            last_status=last_status,
            last_error=last_error,
            last_success_at_ms=last_success_at,
        ),
        created=created,
        sns=SnsSubscription.from_json(sns),
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
        (subscription_id, url, secret, policy, challenge, confirm_url, status, public_id,
         sns) = row  # fmt: skip
        return cls(
            subscription_key, subscription_id, url, secret,
            DeliveryPolicy(**json.loads(policy)), challenge, confirm_url, status, public_id,
            SnsSubscription.from_json(sns),
        )  # fmt: skip

    def lease_until(self, now_ms: int, margin_seconds: int) -> int:
        """The end of a claim: the push's own timeout, plus a margin for recording its outcome."""
        return now_ms + (self.policy.timeout_seconds + margin_seconds) * 1000

    def already_confirmed(self, kind: str) -> bool:
        """A pending confirmation push whose subscription was confirmed through its link."""
        return kind == DeliveryKind.CONFIRMATION and self.status == Status.CONFIRMED

    def task(
        self, due: Sequence[Any], message_row: Sequence[Any] | None, cipher: BodyCipher | None
    ) -> DeliveryTask | None:
        """The push for one claimed delivery row; None for a notification whose message is gone
        (cannot happen: a message lives while it has deliveries)."""
        key, kind, webhook_id, attempts = due[:4]
        message, published_at = topic_message(message_row, cipher) if message_row else (None, None)
        if kind == DeliveryKind.NOTIFICATION and message is None:
            return None
        return DeliveryTask(
            delivery_key=key,
            kind=DeliveryKind(kind),
            webhook_id=webhook_id,
            attempt=attempts + 1,
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


def sqs_queue_values(entry: SqsQueue) -> tuple[Any, ...]:
    """The insert parameters of an SQS name, in the order of both stores' ``sqs_insert``."""
    return (
        entry.account,
        entry.name,
        entry.queue_hash,
        entry.sealed_queue_id,
        sqs_tags_value(entry.tags),
        entry.created_at_ms,
        entry.modified_at_ms,
        entry.policy,
    )


def sqs_queue_from_row(row: Sequence[Any]) -> SqsQueue:
    account, name, id_hash, sealed, created_at, modified_at, tags, policy = row
    return SqsQueue(
        account,
        name,
        bytes(id_hash),
        bytes(sealed),
        created_at,
        modified_at,
        json.loads(tags),
        policy,
    )


def sqs_tags_value(tags: Mapping[str, str] | None) -> str | None:
    return None if tags is None else json.dumps(dict(tags), separators=(",", ":"))


def sns_topic_values(entry: SnsTopic) -> tuple[Any, ...]:
    """The insert parameters of an SNS topic name, in the order of both stores' ``sns_insert``."""
    return (
        entry.account,
        entry.name,
        entry.topic_hash,
        entry.sealed_topic_id,
        compact_json(entry.attributes),
        compact_json(entry.tags),
        entry.created_at_ms,
    )


def sns_topic_from_row(row: Sequence[Any]) -> SnsTopic:
    account, name, id_hash, sealed, attributes, tags, created_at = row
    return SnsTopic(
        account, name, bytes(id_hash), bytes(sealed), json.loads(attributes), json.loads(tags),
        created_at,
    )  # fmt: skip


def compact_json(document: Mapping[str, str]) -> str:
    return json.dumps(dict(document), separators=(",", ":"))


def move_task_from_row(row: Sequence[Any]) -> MoveTask:
    """A task as both stores' move-task queries return it."""
    (key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
     started_at, finished_at, source_label, destination_label) = row  # fmt: skip
    return MoveTask(
        key=key,
        handle=handle,
        source_key=source_key,
        destination_hash=None if destination_hash is None else bytes(destination_hash),
        rate=rate,
        status=MoveStatus(status),
        to_move=to_move,
        moved=moved,
        failure=failure,
        started_at_ms=started_at,
        finished_at_ms=finished_at,
        source_label=source_label,
        destination_label=destination_label,
    )
