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
from typing import Any

from ems.core.attempt_rules import WINDOW_MS, attempt_hash
from ems.core.ids import queue_hash
from ems.core.models import ReceiveRequest
from ems.core.queue_access import Use
from ems.core.queues import QueueService, ReceivedMessage


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
    ) -> list[ReceivedMessage]:
        """Receive; with an attempt id on a FIFO queue, what an earlier attempt with the same
        id answered if that still holds (see the module doc). Standard queues ignore the id,
        as SQS does."""
        # without an attempt id, no lookup more than a plain receive makes
        record = (
            None
            if attempt_id is None
            else (await self.service.find_queue(queue_id, Use.RECEIVE)).record
        )
        if attempt_id is None or record is None or record.config.fifo is None:
            return await self.service.receive(
                queue_id, request, wait_seconds=wait_seconds, disconnected=disconnected
            )
        h, attempt = queue_hash(queue_id), attempt_hash(attempt_id)
        replayed = await self.store.replay_receive_attempt(h, attempt, request.visibility_timeout)
        if replayed is not None:
            issue = self.service.receipts.issue
            return [ReceivedMessage(m, issue(record.key, m.seq, m.receive_count)) for m in replayed]
        deliveries = await self.service.receive(
            queue_id, request, wait_seconds=wait_seconds, disconnected=disconnected
        )
        if deliveries:
            taken = [delivery.message for delivery in deliveries]
            await self.store.record_receive_attempt(h, attempt, taken, WINDOW_MS)
        return deliveries
