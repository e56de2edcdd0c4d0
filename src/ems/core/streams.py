"""Live streams of a queue: what one stream may hold, and how it stays at least once.

A stream is a long poll that does not end. It receives with the ordinary receive (so a streamed
message is in flight under the visibility timeout, with a receipt handle, exactly like a
received one) and waits on the store's wakeups between messages, so a send on any node reaches
it as it reaches a long poll. Two things are its own:

- ``max_in_flight``: a stream hands out at most that many messages its client has not yet
  deleted. It remembers what it handed out and when each message's visibility ends; at the
  cap it waits until one is deleted or has its visibility changed (on this node, ``Releases``
  in core/wakeups.py wakes it at once), its visibility ends, or, on a store whose wakeups may
  miss another node's news, the poll interval passes. Then it checks its messages against the
  store (a peek per message, at most ``max_in_flight`` of them): what is gone, received again
  or visible again no longer counts.
- ``delete=true``: each message is deleted once it is written to the client (at most once, for
  notifications); nothing is remembered.

No new storage: the rules are here, on top of the store's receive, peek and delete.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from ems.core.ids import queue_hash
from ems.core.models import ReceiveRequest
from ems.core.queues import QueueService, ReceivedMessage

# messages one receive of a stream claims at most (a stream writes them as they come anyway)
STREAM_BATCH: Final = 10
DEFAULT_MAX_IN_FLIGHT: Final = 10


class QueueStream:
    """The messages one stream of a queue hands out, as they become receivable."""

    def __init__(
        self,
        service: QueueService,
        queue_id: str,
        queue_key: int,
        *,
        visibility_timeout: int,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        delete: bool = False,
        correlation_id: str | None = None,
    ) -> None:
        self.service = service
        self.queue_id = queue_id
        self.queue_key = queue_key
        self.visibility_timeout = visibility_timeout
        self.max_in_flight = max_in_flight
        self.delete = delete
        self.correlation_id = correlation_id
        # messages handed out and not known to be deleted: seq -> (receive count, visible at ms)
        self._in_flight: dict[int, tuple[int, int]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def next(self, seconds: float, stop: asyncio.Future[Any]) -> list[ReceivedMessage]:
        """The next messages, or none when ``seconds`` pass, ``stop`` completes or the server
        stops (the caller tells those apart)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or stop.done():
                return []
            room = self._room()
            if room <= 0:
                await self._wait_for_room(remaining, stop)
                await self._recheck()
                continue
            request = ReceiveRequest(
                max_messages=min(room, STREAM_BATCH),
                visibility_timeout=self.visibility_timeout,
                correlation_id=self.correlation_id,
            )
            deliveries = await self.service.receive(
                self.queue_id, request, wait_seconds=remaining, disconnected=stop
            )
            if not self.delete:
                until = self.service.store.clock.now_ms() + self.visibility_timeout * 1000
                for delivery in deliveries:
                    message = delivery.message
                    self._in_flight[message.seq] = (message.receive_count, until)
            return deliveries

    async def written(self, deliveries: list[ReceivedMessage]) -> None:
        """The client was sent these: with ``delete=true``, they are deleted now."""
        if self.delete and deliveries:
            await self.service.delete_messages(
                self.queue_id, [d.receipt_handle for d in deliveries]
            )

    def _room(self) -> int:
        if self.delete:
            return STREAM_BATCH
        now = self.service.store.clock.now_ms()
        for seq in [s for s, (_, until) in self._in_flight.items() if until <= now]:
            del self._in_flight[seq]  # visible again: the queue hands it out anew
        return self.max_in_flight - len(self._in_flight)

    async def _wait_for_room(self, remaining: float, stop: asyncio.Future[Any]) -> None:
        now = self.service.store.clock.now_ms()
        earliest = min(until for _, until in self._in_flight.values())
        seconds = min(remaining, max(0.0, (earliest - now) / 1000) + 0.001)
        poll = self.service.store.poll_interval
        if poll is not None:
            seconds = min(seconds, poll)  # another node's deletes are not announced here
        await self.service.releases.wait(self.queue_key, seconds, stop)

    async def _recheck(self) -> None:
        """Forget the messages that were deleted, received again or made visible meanwhile."""
        h = queue_hash(self.queue_id)
        store = self.service.store
        for seq, (count, _) in list(self._in_flight.items()):
            page = await store.peek(h, after=seq - 1, limit=1)
            now = store.clock.now_ms()
            found = page.messages[0] if page.messages else None
            if (
                found is None
                or found.seq != seq
                or found.receive_count != count
                or found.visible_at_ms <= now
            ):
                del self._in_flight[seq]
            else:
                self._in_flight[seq] = (count, found.visible_at_ms)
