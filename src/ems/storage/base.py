"""The Store: the only seam between EMS's domain rules and a database.

Every method is one domain operation, atomic and durable when it returns: a backend must have
committed (and, with default settings, fsync'd) before it answers. Queues are named by the
SHA-256 of their capability id; a store never sees a working id.

Stores also report what their commits make ready: ``wakeups.notify`` when messages become
receivable (so long polls return at once) and ``deliveries_ready`` with the subscriptions that got
webhook deliveries to make (so the dispatcher pushes at once rather than at its next scan).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ems.core.clock import Clock
from ems.core.idempotency import KeyedSend
from ems.core.models import (
    NewMessage,
    Outcome,
    PeekResult,
    QueueCapabilities,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    SweepReport,
)
from ems.core.topic_models import (
    PublishResult,
    TopicMessage,
)
from ems.core.wakeups import DeliveriesReady, Releases, Wakeups
from ems.storage.admin_reads import AdminReads
from ems.storage.health import StorageHealth
from ems.storage.move_store import MoveTaskStore
from ems.storage.name_stores import SnsNameStore, SqsNameStore
from ems.storage.outbox_store import OutboxStore
from ems.storage.sqs_fifo import SqsFifoStorage
from ems.storage.topic_store import TopicStore


class StoreUnusable(RuntimeError):
    """The store cannot be opened as configured; the message tells the operator what to do."""


class Store(
    TopicStore,
    OutboxStore,
    AdminReads,
    SqsNameStore,
    SnsNameStore,
    MoveTaskStore,
    SqsFifoStorage,
    abc.ABC,
):
    """Abstract message store: queues and messages here, the other roles in the classes it
    combines (one module each). Implementations: :mod:`ems.storage.sqlite`,
    :mod:`ems.storage.postgres`."""

    wakeups: Wakeups
    clock: Clock
    # what the last commits found: /readyz answers 503 while it records an outage
    health: StorageHealth
    # told the subscriptions that got pushes to make, after commits (the dispatcher listens)
    deliveries_ready: DeliveriesReady
    # a store whose wakeups may miss a commit (another node's) has long polls re-check this
    # often, in seconds; None: wakeups are exact
    poll_interval: float | None = None
    # live streams at their max_in_flight wait here for deletes and visibility changes; the
    # service notifies its own, a store those of other processes sharing it (--workers)
    releases: Releases

    @abc.abstractmethod
    async def open(self) -> None:
        """Create or migrate the schema and get ready to serve."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish what was accepted, then release every resource."""

    @abc.abstractmethod
    async def server_secret(self, name: str) -> bytes:
        """A random 32-byte secret, created on first use and the same on every node forever."""

    # queues

    @abc.abstractmethod
    async def create_queue(
        self,
        capabilities: QueueCapabilities,
        config: QueueConfig,
        *,
        owner: str | None = None,
        quota: int | None = None,
    ) -> QueueRecord:
        """Raise DeadLetterQueueNotFound if ``config.dead_letter`` names no queue, and
        QuotaExceeded if ``owner`` already has ``quota`` queues."""

    @abc.abstractmethod
    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        """The queue reached by any of its ids, with the scope of that id; raise QueueNotFound.

        Every other operation also accepts any of a queue's ids: enforcing scopes is the
        service's job. May be served from a cache that is exact on this node.
        """

    @abc.abstractmethod
    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        """Approximate counts: exact as of some recent moment."""

    @abc.abstractmethod
    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord: ...

    @abc.abstractmethod
    async def rotate_queue(self, queue_hash: bytes, send_hash: bytes, receive_hash: bytes) -> None:
        """Replace the queue's send and receive ids; the old ones stop working."""

    @abc.abstractmethod
    async def delete_queue(self, queue_hash: bytes) -> None:
        """Delete a queue and its messages; queues that dead-letter into it stop doing so."""

    @abc.abstractmethod
    async def purge_queue(self, queue_hash: bytes) -> None:
        """Delete every message in the queue, at once from the clients' point of view."""

    # messages

    @abc.abstractmethod
    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        """Store all messages or none. Raise MessageTooLarge if one exceeds the queue's limit,
        and QueueFull if they would take the queue past its stored messages or bytes."""

    @abc.abstractmethod
    async def send_idempotent(
        self, queue_hash: bytes, send: KeyedSend, window_ms: int
    ) -> list[str | None]:
        """Send, storing only the messages whose key is new (or None) within ``window_ms``.

        Per message, the id of the message it repeats (None: stored). The keys of stored
        messages are remembered in the same transaction (see :mod:`ems.core.idempotency`);
        raises as :meth:`send` does, and then remembers nothing.
        """

    @abc.abstractmethod
    async def publish_idempotent(
        self, topic_hash: bytes, message: TopicMessage, key_hash: bytes, window_ms: int
    ) -> PublishResult:
        """Publish unless ``key_hash`` was used on this topic within ``window_ms``: then store
        nothing and answer the earlier message's id as ``duplicate_of``."""

    @abc.abstractmethod
    async def receive(self, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        """Claim up to ``max_messages`` visible messages, oldest first (best effort).

        Each claimed message's receive count goes up by one and it stays invisible for the
        visibility timeout. A message already received ``max_receives`` times moves to the
        dead-letter queue instead of being returned.
        """

    @abc.abstractmethod
    async def delete_messages(
        self, queue_hash: bytes, receipts: Sequence[Receipt]
    ) -> list[Outcome]: ...

    @abc.abstractmethod
    async def change_visibility(
        self, queue_hash: bytes, changes: Sequence[tuple[Receipt, int]]
    ) -> list[Outcome]:
        """Make each message invisible for the given seconds from now (0: visible now)."""

    @abc.abstractmethod
    async def peek(self, queue_hash: bytes, *, after: int | None, limit: int) -> PeekResult:
        """Browse messages in send order without changing anything."""

    # housekeeping

    @abc.abstractmethod
    async def sweep(self) -> SweepReport:
        """Delete some expired messages and leftovers of deleted queues; ``more`` if not done."""

    @property
    def commit_stats(self) -> tuple[int, int, float]:
        """(transactions, operations, seconds spent committing) so far: the group-commit factor
        is operations per transaction, the commit latency seconds per transaction."""
        return (0, 0, 0.0)
