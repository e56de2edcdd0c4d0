"""Queue and message rows as every store returns them, mapped to domain records.

Backends select the same columns in the same order, so these mappings (and what they decide,
such as decrypting bodies and counting a receive) are written once. Topic rows:
:mod:`ems.storage.topic_rows`; names and move tasks: :mod:`ems.storage.name_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol

from ems.core.fifo import DeduplicationScope, FifoSettings, ThroughputLimit
from ems.core.models import (
    DeadLetter,
    IdScope,
    NewMessage,
    QueueConfig,
    QueueRecord,
    ReceiveRequest,
    StoredMessage,
)
from ems.storage.cipher import BodyCipher, open_body

_EMPTY: Final[MappingProxyType[str, str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class QueueRow:
    record: QueueRecord
    partition: int
    dead_letter_key: int | None
    dead_letter_partition: int | None


class QueueColumns(NamedTuple):
    """A queue row (``queue_by_hash``, ``queue_by_key``) by name, in the drivers' column order."""

    key: int
    partition: int
    visibility_timeout: int
    retention_seconds: int
    max_message_bytes: int
    delay_seconds: int
    receive_wait_seconds: int
    dead_letter_key: int | None
    dead_letter_hash: bytes | None
    max_receives: int | None
    dead_letter_sealed: bytes | None
    created_at: int
    dead_letter_partition: int | None
    max_stored_messages: int
    max_stored_bytes: int
    scope: str
    label: str | None
    deduplication_window_seconds: int
    fifo: str | None


def queue_from_row(row: Sequence[Any]) -> QueueRow:
    q = QueueColumns._make(row)
    dead_letter = (
        DeadLetter(
            queue_hash=q.dead_letter_hash,
            max_receives=q.max_receives,
            sealed_queue_id=q.dead_letter_sealed,
        )
        if q.dead_letter_key is not None
        and q.dead_letter_hash is not None
        and q.max_receives is not None
        and q.dead_letter_sealed is not None
        else None
    )
    config = QueueConfig(
        visibility_timeout=q.visibility_timeout,
        retention_seconds=q.retention_seconds,
        max_message_bytes=q.max_message_bytes,
        delay_seconds=q.delay_seconds,
        receive_wait_seconds=q.receive_wait_seconds,
        dead_letter=dead_letter,
        max_stored_messages=q.max_stored_messages,
        max_stored_bytes=q.max_stored_bytes,
        deduplication_window_seconds=q.deduplication_window_seconds,
        fifo=None if q.fifo is None else fifo_settings(q.fifo),
        label=q.label,
    )
    record = QueueRecord(q.key, config, q.created_at, IdScope(q.scope))
    return QueueRow(record, q.partition, q.dead_letter_key, q.dead_letter_partition)


def message_rows(
    queue: QueueRow,
    messages: Iterable[NewMessage],
    now: int,
    rows: list[tuple[Any, ...]],
    cipher: BodyCipher | None,
) -> tuple[int, list[str | None]]:
    """Append the rows to insert for ``messages`` into ``queue`` (partition, visible_at,
    sent_at, message_id, correlation_id, attributes, body, cipher, group_id).

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


class MessageFields(Protocol):
    """The columns every message read starts with (seq, message_id, body, correlation_id,
    attributes, receive_count, sent_at, first_received_at, cipher): what
    :func:`stored_message` reads, from any of the message row shapes below."""

    @property
    def seq(self) -> int: ...
    @property
    def message_id(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def attributes(self) -> str | None: ...
    @property
    def receive_count(self) -> int: ...
    @property
    def sent_at(self) -> int: ...
    @property
    def first_received_at(self) -> int | None: ...
    @property
    def cipher(self) -> int | None: ...


class MessageColumns(NamedTuple):
    """A message row as a standard receive reads it (SQLite ``receivable``,
    ``receivable_correlated``)."""

    seq: int
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: str | None
    receive_count: int
    sent_at: int
    first_received_at: int | None
    cipher: int | None


class PlacedMessageColumns(NamedTuple):
    """A message row with its group (null in a standard queue) and when it is visible
    (``peek``)."""

    seq: int
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: str | None
    receive_count: int
    sent_at: int
    first_received_at: int | None
    cipher: int | None
    group_id: str | None
    visible_at: int


class FifoMessageColumns(NamedTuple):
    """A FIFO queue's message row, with its group and when it is visible (``fifo_receivable``,
    ``fifo_group_head``, ``fifo_group_receivable``, ``sqs_fifo_attempt_messages``)."""

    seq: int
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: str | None
    receive_count: int
    sent_at: int
    first_received_at: int | None
    cipher: int | None
    group_id: str
    visible_at: int


class ClaimedColumns(NamedTuple):
    """A row of PostgreSQL's claiming ``receive``: a claimed message as it is now, with when it
    was visible; or (``moved_size`` set, the rest but ``seq`` and ``correlation_id`` null) a
    message moved to the dead-letter queue instead."""

    seq: int
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: str | None
    receive_count: int
    sent_at: int
    first_received_at: int | None
    cipher: int | None
    was_visible_at: int | None
    moved_size: int | None


def stored_message(
    row: MessageFields,
    visible_at: int,
    cipher: BodyCipher | None,
    *,
    received_at: int | None = None,
    group_id: str | None = None,
) -> StoredMessage:
    """A message row as a record; with ``received_at``, as its receiver sees it after this
    receive."""
    receive_count = row.receive_count
    first_received = row.first_received_at
    if received_at is not None:
        receive_count += 1
        first_received = first_received or received_at
    attributes = row.attributes
    return StoredMessage(
        seq=row.seq,
        message_id=row.message_id,
        body=open_body(cipher, bytes(row.body), row.cipher),
        correlation_id=row.correlation_id,
        attributes=json.loads(attributes) if attributes else _EMPTY,
        receive_count=receive_count,
        sent_at_ms=row.sent_at,
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


def encode_attributes(attributes: Any) -> str | None:
    return json.dumps(attributes, separators=(",", ":")) if attributes else None
