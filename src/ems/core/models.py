"""Plain data passed between the service, the stores and the HTTP layer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ems.core.fifo import FifoSettings

# What the server records of a message's sending (the SQS API's SenderId and AWSTraceHeader),
# not what the client sent: short and bounded by the server, so they do not count against
# max_message_bytes (SQS does not count its system attributes either). ':' cannot appear in
# a client's attribute name, so no client can name an attribute this way.
UNCOUNTED_ATTRIBUTES = frozenset({"sqs:sender_id", "sqs:trace_header"})


def message_size(body: bytes, attributes: Mapping[str, str] | None) -> int:
    """Bytes counted against a ``max_message_bytes``: the body plus attribute names and values
    (those of :data:`UNCOUNTED_ATTRIBUTES` excepted)."""
    if not attributes:
        return len(body)
    return len(body) + sum(
        len(k.encode()) + len(v.encode())
        for k, v in attributes.items()
        if k not in UNCOUNTED_ATTRIBUTES
    )


class IdScope(enum.StrEnum):
    """What a queue capability allows: everything, only sending, or only receiving."""

    FULL = "full"
    SEND = "send"
    RECEIVE = "receive"


@dataclass(frozen=True, slots=True)
class QueueCapabilities:
    """The hashes of a queue's three ids: full control, send only, receive only."""

    full: bytes
    send: bytes
    receive: bytes


@dataclass(frozen=True, slots=True)
class StorageLimits:
    """The server's default (and greatest) limits on what one queue may hold."""

    max_messages: int = 10_000_000
    max_bytes: int = 1 << 30


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Where a queue moves messages received ``max_receives`` times without being deleted.

    ``queue_hash`` identifies the target queue to the store. ``sealed_queue_id`` is the target's
    id encrypted under the source queue's id: the store can hand it back on request without ever
    holding a working id (a leaked database does not leak capabilities).
    """

    queue_hash: bytes
    max_receives: int
    sealed_queue_id: bytes


@dataclass(frozen=True, slots=True)
class QueueConfig:
    visibility_timeout: int = 30
    retention_seconds: int = 4 * 24 * 3600
    max_message_bytes: int = 262_144
    delay_seconds: int = 0
    receive_wait_seconds: int = 0
    dead_letter: DeadLetter | None = None
    # None: the server's default limit
    max_stored_messages: int | None = None
    max_stored_bytes: int | None = None
    # how long an idempotency key is remembered (see ems.core.idempotency)
    deduplication_window_seconds: int = 300
    # None: a standard queue
    fifo: FifoSettings | None = None
    # a human name for operators (the console, /metrics): not secret, grants nothing
    label: str | None = None


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A queue as reached through one of its ids; ``key`` never leaves the server."""

    key: int
    config: QueueConfig
    created_at_ms: int
    scope: IdScope = IdScope.FULL


@dataclass(frozen=True, slots=True)
class QueueStats:
    visible: int
    in_flight: int
    delayed: int
    oldest_sent_at_ms: int | None
    stored_messages: int = 0
    stored_bytes: int = 0


class NewMessage(NamedTuple):
    """A message to store. A named tuple, not a frozen dataclass: batches build thousands per
    request, and a frozen dataclass costs about four times as much to construct."""

    message_id: str
    body: bytes
    correlation_id: str | None = None
    attributes: Mapping[str, str] | None = None
    # None means "the queue's default delay"
    delay_seconds: int | None = None
    # a FIFO queue's message group
    group_id: str | None = None

    @property
    def size(self) -> int:
        return message_size(self.body, self.attributes)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: Mapping[str, str]
    receive_count: int
    sent_at_ms: int
    first_received_at_ms: int | None
    visible_at_ms: int
    # a FIFO queue's message group; the seq is its sequence number
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveRequest:
    max_messages: int = 1
    visibility_timeout: int | None = None  # None: the queue's default
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    queue_key: int
    messages: list[StoredMessage]
    # when nothing was receivable: the earliest time a message of this queue becomes visible
    next_visible_at_ms: int | None = None
    dead_lettered: int = 0


@dataclass(frozen=True, slots=True)
class PeekResult:
    messages: list[StoredMessage]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt handle proves: this queue delivered this message on this receive."""

    queue_key: int
    seq: int
    receive_count: int


class Outcome(enum.Enum):
    """The result of acting on one receipt handle."""

    DONE = "done"
    STALE = "stale"  # the message was received again since: the holder lost its lease
    GONE = "gone"  # the message no longer exists (deleted, expired, dead-lettered)
    FOREIGN = "foreign"  # the handle belongs to another queue


@dataclass(frozen=True, slots=True)
class SweepReport:
    expired: int = 0
    dropped: int = 0
    more: bool = False


@dataclass(slots=True)
class QueueChanges:
    """A partial update of a queue's attributes; ``None`` fields stay as they are."""

    visibility_timeout: int | None = None
    retention_seconds: int | None = None
    max_message_bytes: int | None = None
    delay_seconds: int | None = None
    receive_wait_seconds: int | None = None
    dead_letter: DeadLetter | None = None
    clear_dead_letter: bool = False
    max_stored_messages: int | None = None
    max_stored_bytes: int | None = None
    deduplication_window_seconds: int | None = None
    label: str | None = None
    clear_label: bool = False

    def new_label(self, old: str | None) -> str | None:
        return None if self.clear_label else (self.label or old)


@dataclass(frozen=True, slots=True)
class SqsQueue:
    """A queue name in an SQS account (ems.sqs), naming an EMS queue.

    ``sealed_queue_id`` is the EMS queue's id, sealed by the SQS layer: the store never holds a
    working id in the clear.
    """

    account: str
    name: str
    queue_hash: bytes
    sealed_queue_id: bytes
    created_at_ms: int
    modified_at_ms: int
    tags: Mapping[str, str] = field(default_factory=dict)
    # the SQS Policy attribute as given ("": none); stored, not enforced
    policy: str = ""


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A queue as the operator sees it: no id, only the hash the server stores."""

    key: int
    id_hash: bytes
    created_at_ms: int
    owner: str | None
    stored_messages: int
    stored_bytes: int
    oldest_sent_at_ms: int | None
    label: str | None = None
    # the hash of its dead-letter queue's id, if it has one
    dead_letter_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class TopicSummary:
    key: int
    id_hash: bytes
    created_at_ms: int
    owner: str | None
    subscriptions: int
    # webhook pushes not yet made, and subscriptions whose last push failed with more to make
    webhook_backlog: int = 0
    failing_subscriptions: int = 0


class QueueOrder(enum.StrEnum):
    """How the console may sort queues: each is served by an index or a cheap sort."""

    CREATED = "created"
    LABEL = "label"
    MESSAGES = "messages"
    BYTES = "bytes"


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the console's queue table, sorted and filtered by the database.

    ``text`` matches inside labels (lowercased); ``hash_prefix`` matches the start of id hashes.
    With both set a queue matching either is listed.
    """

    order: QueueOrder = QueueOrder.CREATED
    descending: bool = False
    text: str | None = None
    hash_prefix: bytes | None = None
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """What the whole database holds (every node's work, on PostgreSQL)."""

    queues: int
    topics: int
    subscriptions: int
    pending_confirmations: int
    stored_messages: int
    stored_bytes: int
    oldest_sent_at_ms: int | None
    # webhook pushes not yet made (notifications and confirmation requests)
    webhook_backlog: int
    # subscriptions whose last push failed and that still have pushes to make
    failing_subscriptions: int
    # bytes the database takes on disk
    storage_bytes: int
    # what the store is and where (file path, or database server and whether it is a primary)
    location: str
