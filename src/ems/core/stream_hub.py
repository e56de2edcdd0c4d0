"""The live streams of one server: their limits, their counts, topic listeners and the stop.

Every open stream holds a connection, a task and (for a topic) a buffer for as long as its
client likes, so each is admitted against two limits: streams from one client address, and
streams of one queue or topic (``--max-streams-per-client``, ``--max-streams-per-queue``). Past
either, the stream is refused with ``429 too-many-streams`` before its answer starts.

A topic stream carries messages published while it is open, through this node, and stores
nothing: a publish hands the message to each listener's bounded buffer. A listener that falls
:data:`LISTENER_BUFFER` messages behind loses the newest ones, and is told how many it lost,
rather than making the server hold more for a client that does not read.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Any, Final

from ems.core.errors import ShuttingDown, TooManyStreams
from ems.core.topic_models import TopicMessage

KINDS: Final = ("queue", "topic")
CAPS: Final = ("per_client", "per_queue")
# messages a topic stream may be behind its publishers before it drops the newest
LISTENER_BUFFER: Final = 1000


class TopicListener:
    """One topic stream's buffer of published messages."""

    __slots__ = ("_ready", "dropped", "messages")

    def __init__(self) -> None:
        self.messages: deque[TopicMessage] = deque()
        self.dropped = 0  # messages lost since the stream last said so
        self._ready = asyncio.Event()

    def offer(self, message: TopicMessage) -> None:
        if len(self.messages) >= LISTENER_BUFFER:
            self.dropped += 1
        else:
            self.messages.append(message)
        self._ready.set()

    async def wait(self, seconds: float, stop: asyncio.Future[None]) -> None:
        """Until a message (or a loss) is waiting, ``seconds`` pass or ``stop`` completes."""
        if self.messages or self.dropped:
            return
        self._ready.clear()
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait((ready, stop), timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()


class Slot:
    """An admitted stream; :meth:`close` gives its place back."""

    __slots__ = ("_hub", "client", "kind", "resource", "stop")

    def __init__(
        self, hub: StreamHub, kind: str, client: str, resource: Hashable, stop: asyncio.Future[None]
    ) -> None:
        self._hub = hub
        self.kind = kind
        self.client = client
        self.resource = resource
        # completes when the server stops: the stream ends cleanly
        self.stop = stop

    def close(self) -> None:
        self._hub._release(self)


class StreamHub:
    def __init__(self, max_per_client: int, max_per_queue: int) -> None:
        self.max_per_client = max_per_client
        self.max_per_queue = max_per_queue
        self.open = dict.fromkeys(KINDS, 0)
        self.refused = dict.fromkeys(CAPS, 0)
        self.events = dict.fromkeys(KINDS, 0)  # messages written to streams
        self._by_client: dict[str, int] = {}
        self._by_resource: dict[Hashable, int] = {}
        self._slots: set[Slot] = set()
        self._listeners: dict[bytes, set[TopicListener]] = {}
        self.closed = False

    def admit(self, kind: str, client: str, resource: Hashable) -> Slot:
        """A place for a stream of ``resource`` from ``client``, or TooManyStreams."""
        if self.closed:
            raise ShuttingDown()
        if self.max_per_client and self._by_client.get(client, 0) >= self.max_per_client:
            self.refused["per_client"] += 1
            raise TooManyStreams(
                f"This client has {self.max_per_client} streams open, the most this server "
                "allows (--max-streams-per-client); close one first."
            )
        key = (kind, resource)
        if self.max_per_queue and self._by_resource.get(key, 0) >= self.max_per_queue:
            self.refused["per_queue"] += 1
            raise TooManyStreams(
                f"This {kind} has {self.max_per_queue} streams open, the most this server allows "
                "(--max-streams-per-queue); close one first."
            )
        self._by_client[client] = self._by_client.get(client, 0) + 1
        self._by_resource[key] = self._by_resource.get(key, 0) + 1
        self.open[kind] += 1
        slot = Slot(self, kind, client, key, asyncio.get_running_loop().create_future())
        self._slots.add(slot)
        return slot

    def _release(self, slot: Slot) -> None:
        if slot not in self._slots:
            return
        self._slots.discard(slot)
        self.open[slot.kind] -= 1
        _decrement(self._by_client, slot.client)
        _decrement(self._by_resource, slot.resource)
        if not slot.stop.done():
            slot.stop.cancel()

    # topics

    def listen(self, topic_hash: bytes) -> TopicListener:
        listener = TopicListener()
        self._listeners.setdefault(topic_hash, set()).add(listener)
        return listener

    def unlisten(self, topic_hash: bytes, listener: TopicListener) -> None:
        listeners = self._listeners.get(topic_hash)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[topic_hash]

    def published(self, topic_hash: bytes, message: TopicMessage) -> None:
        """A message was published (and committed) on this node."""
        for listener in self._listeners.get(topic_hash, ()):
            listener.offer(message)

    # stop

    def close(self) -> None:
        """The server is stopping: every stream ends, and no new one starts."""
        self.closed = True
        for slot in self._slots:
            if not slot.stop.done():
                slot.stop.set_result(None)


def _decrement(counts: dict[Any, int], key: Hashable) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
