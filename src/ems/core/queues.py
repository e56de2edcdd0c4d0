"""The queue service: what clients may do with queues, independent of HTTP and of storage.

It turns capability ids into the hashes stores know, mints and checks receipt handles, applies
queue defaults, and implements long polling on top of a store's wakeups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ems.core import capabilities, fifo, limits
from ems.core.errors import (
    DeadLetterQueueNotFound,
    EmsError,
    InvalidAttribute,
    InvalidReceiptHandle,
    QueueNotFound,
)
from ems.core.fifo import FifoSettings
from ems.core.housekeeping import Housekeeping
from ems.core.idempotency import KeyedSend
from ems.core.ids import queue_hash
from ems.core.metrics import Metrics
from ems.core.models import (
    DeadLetter,
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
    StorageLimits,
    StoredMessage,
)
from ems.core.queue_access import QueueTarget, Use, check_use
from ems.core.rates import RECEIVED, SENT
from ems.core.receipts import ReceiptSigner, outcome_error
from ems.core.wakeups import SHUTDOWN
from ems.storage.base import Store

log = logging.getLogger("ems.queues")

HOUSEKEEPING_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    message: StoredMessage
    receipt_handle: str


@dataclass(frozen=True, slots=True)
class QueueView:
    """A queue's attributes as its owner may see them (limits resolved to their values)."""

    queue_id: str
    config: QueueConfig
    dead_letter_queue_id: str | None
    max_stored_messages: int
    max_stored_bytes: int


@dataclass(frozen=True, slots=True)
class NewQueue:
    """A created (or rotated) queue: the only time its scoped ids are shown."""

    view: QueueView
    send_id: str
    receive_id: str


class QueueService:
    def __init__(
        self,
        store: Store,
        receipts: ReceiptSigner,
        *,
        limits: StorageLimits | None = None,
        metrics: Metrics | None = None,
        id_prefix: str = "",
    ) -> None:
        self.store = store
        self.id_prefix = id_prefix
        self.receipts = receipts
        self.limits = limits or StorageLimits()
        self.metrics = metrics or Metrics()
        self.housekeeping = Housekeeping(store)
        # live streams at their max_in_flight wait here for a delete (core/streams.py)
        self.releases = store.releases

    @classmethod
    async def create(
        cls,
        store: Store,
        *,
        limits: StorageLimits | None = None,
        metrics: Metrics | None = None,
        id_prefix: str = "",
    ) -> QueueService:
        signer = ReceiptSigner(await store.server_secret("receipts"))
        return cls(store, signer, limits=limits, metrics=metrics, id_prefix=id_prefix)

    async def find_queue(self, queue_id: str, use: Use) -> QueueTarget:
        """The queue this id reaches, if the id's scope allows ``use`` of it."""
        h = queue_hash(queue_id)
        record = await self.store.get_queue(h)
        check_use(record.scope, use)
        return QueueTarget(h, record)

    # queues

    def _dead_letter(self, owner_id: str, spec: tuple[str, int] | None) -> DeadLetter | None:
        if spec is None:
            return None
        target_id, max_receives = spec
        if not capabilities.looks_like_id(target_id):
            raise DeadLetterQueueNotFound(
                "dead_letter.queue_id is not a queue id: use the queue_id (or send_id) returned "
                "when the dead-letter queue was created.",
                parameter="dead_letter",
            )
        return DeadLetter(
            queue_hash=capabilities.id_hash(target_id),
            max_receives=max_receives,
            sealed_queue_id=capabilities.seal(owner_id, target_id),
        )

    def _check_storage_limits(self, attributes: dict[str, Any]) -> None:
        for name, ceiling in (
            ("max_stored_messages", self.limits.max_messages),
            ("max_stored_bytes", self.limits.max_bytes),
        ):
            value = attributes.get(name)
            if value is not None and value > ceiling:
                raise InvalidAttribute(
                    f"{name} may be at most {ceiling:,} on this server; got {value:,}.",
                    parameter=name,
                )

    async def create_queue(
        self, document: object | None, *, owner: str | None = None, quota: int | None = None
    ) -> NewQueue:
        document, fifo_settings = fifo.settings_from(document)
        attributes = limits.check_queue_attributes({} if document is None else document)
        self._check_storage_limits(attributes)
        queue_id, send_id, receive_id = (capabilities.new_id(self.id_prefix) for _ in range(3))
        config = QueueConfig(
            **{k: v for k, v in attributes.items() if k != "dead_letter"},
            dead_letter=self._dead_letter(queue_id, attributes.get("dead_letter")),
            fifo=fifo_settings,
        )
        await self._check_dead_letter_kind(config.dead_letter, config.fifo)
        ids = QueueCapabilities(
            capabilities.id_hash(queue_id),
            capabilities.id_hash(send_id),
            capabilities.id_hash(receive_id),
        )
        record = await self.store.create_queue(ids, config, owner=owner, quota=quota)
        return NewQueue(self._view(queue_id, record), send_id, receive_id)

    async def rotate(self, queue_id: str) -> NewQueue:
        h, record = await self.find_queue(queue_id, Use.OWN)
        send_id, receive_id = (capabilities.new_id(self.id_prefix) for _ in range(2))
        await self.store.rotate_queue(
            h, capabilities.id_hash(send_id), capabilities.id_hash(receive_id)
        )
        return NewQueue(self._view(queue_id, record), send_id, receive_id)

    async def _check_dead_letter_kind(
        self, dead_letter: DeadLetter | None, settings: FifoSettings | None
    ) -> None:
        if dead_letter is None:
            return
        try:
            target = await self.store.get_queue(dead_letter.queue_hash)
        except QueueNotFound:
            return  # the store refuses it with the usual problem
        fifo.check_dead_letter_kind(target.config.fifo, fifo=settings)

    def _view(self, queue_id: str, record: QueueRecord) -> QueueView:
        dead_letter = record.config.dead_letter
        config = record.config
        return QueueView(
            queue_id=queue_id,
            config=config,
            dead_letter_queue_id=(
                capabilities.unseal(queue_id, dead_letter.sealed_queue_id)
                if dead_letter is not None
                else None
            ),
            max_stored_messages=config.max_stored_messages or self.limits.max_messages,
            max_stored_bytes=config.max_stored_bytes or self.limits.max_bytes,
        )

    async def describe_queue(self, queue_id: str) -> tuple[QueueView, QueueStats]:
        h, record = await self.find_queue(queue_id, Use.OWN)
        stats = await self.store.queue_stats(h)
        return self._view(queue_id, record), stats

    async def update_queue(self, queue_id: str, document: object) -> QueueView:
        h, record = await self.find_queue(queue_id, Use.OWN)
        fifo.refuse_changes(document)
        attributes: dict[str, Any] = limits.check_queue_attributes(document)
        self._check_storage_limits(attributes)
        changes = QueueChanges(
            visibility_timeout=attributes.get("visibility_timeout"),
            retention_seconds=attributes.get("retention_seconds"),
            max_message_bytes=attributes.get("max_message_bytes"),
            delay_seconds=attributes.get("delay_seconds"),
            receive_wait_seconds=attributes.get("receive_wait_seconds"),
            max_stored_messages=attributes.get("max_stored_messages"),
            max_stored_bytes=attributes.get("max_stored_bytes"),
            deduplication_window_seconds=attributes.get("deduplication_window_seconds"),
            label=attributes.get("label"),
            clear_label="label" in attributes and attributes["label"] is None,
        )
        if "dead_letter" in attributes:
            changes.dead_letter = self._dead_letter(queue_id, attributes["dead_letter"])
            changes.clear_dead_letter = changes.dead_letter is None
            await self._check_dead_letter_kind(changes.dead_letter, record.config.fifo)
        record = await self.store.update_queue(h, changes)
        return self._view(queue_id, record)

    async def delete_queue(self, queue_id: str) -> None:
        h, _ = await self.find_queue(queue_id, Use.OWN)
        await self.store.delete_queue(h)

    async def purge_queue(self, queue_id: str) -> None:
        h, _ = await self.find_queue(queue_id, Use.OWN)
        await self.store.purge_queue(h)

    # messages

    async def send(self, target: QueueTarget, messages: Sequence[NewMessage]) -> None:
        """Send to a target found with :meth:`find_queue` for :attr:`Use.SEND`."""
        await self.store.send(target.hash, messages)
        self.metrics.messages["sent"] += len(messages)
        self.metrics.queue_rates.count(target.record.key, SENT, len(messages))

    async def send_keyed(self, target: QueueTarget, send: KeyedSend) -> list[str | None]:
        """Send with idempotency keys: per message, the id it repeats (None: stored)."""
        window_ms = target.record.config.deduplication_window_seconds * 1000
        originals = await self.store.send_idempotent(target.hash, send, window_ms)
        self.metrics.messages["sent"] += originals.count(None)
        return originals

    async def receive(
        self,
        queue_id: str,
        request: ReceiveRequest,
        *,
        wait_seconds: float | None = None,
        disconnected: asyncio.Future[Any] | None = None,
    ) -> list[ReceivedMessage]:
        """Receive, long-polling up to ``wait_seconds`` (default: the queue's setting).

        Returns as soon as at least one message was claimed, or with none when the wait ends,
        the client disconnects, or the server shuts down.
        """
        h, record = await self.find_queue(queue_id, Use.RECEIVE)
        fifo.check_receive(record.config.fifo, request.correlation_id)
        if wait_seconds is None:
            wait_seconds = record.config.receive_wait_seconds
        wakeups = self.store.wakeups
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            version = wakeups.version(record.key)
            result = await self.store.receive(h, request)
            self.metrics.count("dead_lettered", result.dead_lettered)
            if result.messages:
                self.metrics.count("received", len(result.messages))
                self.metrics.queue_rates.count(result.queue_key, RECEIVED, len(result.messages))
                return [self._delivery(result.queue_key, m) for m in result.messages]
            remaining = deadline - loop.time()
            if remaining <= 0 or (disconnected is not None and disconnected.done()):
                return []
            if result.next_visible_at_ms is not None:
                until_visible = (result.next_visible_at_ms - self.store.clock.now_ms()) / 1000
                remaining = min(remaining, max(until_visible, 0.0) + 0.001)
            if self.store.poll_interval is not None:
                remaining = min(remaining, self.store.poll_interval)
            outcome = await wakeups.wait(
                record.key,
                request.correlation_id,
                remaining,
                since_version=version,
                cancel=disconnected,
            )
            if outcome == SHUTDOWN:
                return []

    def _delivery(self, queue_key: int, message: StoredMessage) -> ReceivedMessage:
        handle = self.receipts.issue(queue_key, message.seq, message.receive_count)
        return ReceivedMessage(message, handle)

    async def delete_message(self, queue_id: str, receipt_handle: str) -> None:
        """Idempotent: deleting a message that is already gone succeeds."""
        (outcome,) = await self.delete_messages(queue_id, [receipt_handle])
        if outcome is not None:
            raise outcome

    async def delete_messages(
        self, queue_id: str, receipt_handles: Sequence[str]
    ) -> list[EmsError | None]:
        """Per handle: None when deleted (or already gone), else the error for that handle."""
        h, record = await self.find_queue(queue_id, Use.RECEIVE)
        parsed = [self._verify(handle) for handle in receipt_handles]
        valid = [p for p in parsed if isinstance(p, Receipt)]
        results = await self.store.delete_messages(h, valid) if valid else []
        if valid:
            self.releases.notify(record.key)
        self.metrics.count("deleted", results.count(Outcome.DONE))
        outcomes = iter(results)
        return [
            p if isinstance(p, EmsError) else outcome_error(next(outcomes), deleting=True)
            for p in parsed
        ]

    async def change_visibility(
        self, queue_id: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        (outcome,) = await self.change_visibilities(
            queue_id, [(receipt_handle, visibility_timeout)]
        )
        if outcome is not None:
            raise outcome

    async def change_visibilities(
        self, queue_id: str, entries: Sequence[tuple[str, int]]
    ) -> list[EmsError | None]:
        h, record = await self.find_queue(queue_id, Use.RECEIVE)
        parsed = [(self._verify(handle), timeout) for handle, timeout in entries]
        valid = [(p, t) for p, t in parsed if isinstance(p, Receipt)]
        outcomes = iter(await self.store.change_visibility(h, valid) if valid else [])
        if valid:
            self.releases.notify(record.key)
        return [
            p if isinstance(p, EmsError) else outcome_error(next(outcomes), deleting=False)
            for p, _ in parsed
        ]

    def _verify(self, handle: str) -> Receipt | EmsError:
        try:
            return self.receipts.verify(handle)
        except InvalidReceiptHandle as error:
            return error

    async def peek(self, queue_id: str, *, after: int | None, limit: int) -> PeekResult:
        h, _ = await self.find_queue(queue_id, Use.OWN)
        return await self.store.peek(h, after=after, limit=limit)
