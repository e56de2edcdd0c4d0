"""The Store: the only seam between EMS's domain rules and a database.

Every method is one domain operation, atomic and durable when it returns: a backend must have
committed (and, with default settings, fsync'd) before it answers. Queues are named by the
SHA-256 of their capability id; a store never sees a working id.

Stores also report *wakeups*: after committing something that makes messages receivable now, a
store calls ``wakeups.notify`` so long polls on this node (and, for shared databases, on other
nodes) return at once.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ems.core.clock import Clock
from ems.core.models import (
    NewMessage,
    Outcome,
    PeekResult,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    SweepReport,
)
from ems.core.wakeups import Wakeups


class Store(abc.ABC):
    """Abstract message store. Implementations: :mod:`ems.storage.sqlite`."""

    wakeups: Wakeups
    clock: Clock

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
    async def create_queue(self, queue_hash: bytes, config: QueueConfig) -> QueueRecord:
        """Raise DeadLetterQueueNotFound if ``config.dead_letter`` names no queue."""

    @abc.abstractmethod
    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        """Raise QueueNotFound. May be served from a cache that is exact on this node."""

    @abc.abstractmethod
    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        """Approximate counts: exact as of some recent moment."""

    @abc.abstractmethod
    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord: ...

    @abc.abstractmethod
    async def delete_queue(self, queue_hash: bytes) -> None:
        """Delete a queue and its messages; queues that dead-letter into it stop doing so."""

    @abc.abstractmethod
    async def purge_queue(self, queue_hash: bytes) -> None:
        """Delete every message in the queue, at once from the clients' point of view."""

    # messages

    @abc.abstractmethod
    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        """Store all messages or none. Raise MessageTooLarge if one exceeds the queue's limit."""

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
