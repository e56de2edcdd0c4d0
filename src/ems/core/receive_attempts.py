"""Receive attempts on FIFO queues: a retried receive answers what the lost one took.

SQS's ``ReceiveRequestAttemptId``: a consumer whose receive timed out does not know which
messages it took; those stay in flight and, on a FIFO queue, hold their groups back until their
visibility timeout ends. Retried with the same attempt id within five minutes, the receive answers
the same messages with the same receipt handles and starts their visibility timeout again, as
long as none of them was deleted, had its visibility changed, or was received again meanwhile
(SQS documents the same conditions); otherwise the retry is a new receive.

The stores keep, per queue and attempt id (hashed), the messages answered with the receive count
and visibility each had then; a receipt handle is made of the queue, the message and its receive
count, so the same three give the same handle. The rows live in the database, so a retry sent to
another PostgreSQL node finds them too.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from ems.core.models import ReceiveRequest, StoredMessage
from ems.core.queues import Delivery, QueueService, queue_hash

# how long an attempt id is remembered, from the receive that first used it
WINDOW_MS: Final = 5 * 60 * 1000


class Attempted(NamedTuple):
    """A message as an attempt answered it."""

    seq: int
    receive_count: int
    visible_at_ms: int


def attempt_hash(attempt_id: str) -> bytes:
    return hashlib.sha256(attempt_id.encode()).digest()


def encode(messages: Sequence[StoredMessage]) -> str:
    return json.dumps([[m.seq, m.receive_count, m.visible_at_ms] for m in messages])


def decode(text: str) -> list[Attempted]:
    return [Attempted(*entry) for entry in json.loads(text)]


def unchanged(recorded: Sequence[Attempted], current: dict[int, tuple[int, int]], now: int) -> bool:
    """Whether every message of the attempt is as it answered it: still there (not deleted),
    received no more times since, its visibility not changed, and still in flight.
    ``current`` maps seq to (receive_count, visible_at) as the store has them now."""
    for message in recorded:
        found = current.get(message.seq)
        if found != (message.receive_count, message.visible_at_ms) or found[1] <= now:
            return False
    return True


class ReceiveAttempts:
    """Receives on a queue service that honour attempt ids on FIFO queues."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.store = service.store

    async def receive(
        self,
        queue_id: str,
        request: ReceiveRequest,
        attempt_id: str | None,
        *,
        wait_seconds: float | None = None,
        disconnected: asyncio.Future[Any] | None = None,
    ) -> list[Delivery]:
        """Receive; with an attempt id on a FIFO queue, what an earlier attempt with the same
        id answered if that still holds (see the module doc). Standard queues ignore the id,
        as SQS does."""
        # without an attempt id, no lookup more than a plain receive makes
        record = None if attempt_id is None else await self.service.queue_for_receiving(queue_id)
        if attempt_id is None or record is None or record.config.fifo is None:
            return await self.service.receive(
                queue_id, request, wait_seconds=wait_seconds, disconnected=disconnected
            )
        h, attempt = queue_hash(queue_id), attempt_hash(attempt_id)
        replayed = await self.store.replay_receive_attempt(h, attempt, request.visibility_timeout)
        if replayed is not None:
            issue = self.service.receipts.issue
            return [Delivery(m, issue(record.key, m.seq, m.receive_count)) for m in replayed]
        deliveries = await self.service.receive(
            queue_id, request, wait_seconds=wait_seconds, disconnected=disconnected
        )
        if deliveries:
            taken = [delivery.message for delivery in deliveries]
            await self.store.record_receive_attempt(h, attempt, taken, WINDOW_MS)
        return deliveries
