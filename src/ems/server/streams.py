"""Server-Sent Events: ``GET /ems/queue/{id}/stream`` and ``GET /ems/topic/{id}/stream``.

Everything that can be refused is refused before the answer starts (a bad parameter, an
unknown id, a send_id, too many streams), as an ordinary problem+json. Once the answer has
started, it is a ``text/event-stream`` (WHATWG HTML, "Server-sent events"):

- ``retry: <ms>`` first, so a browser's EventSource waits that long before reconnecting;
- one ``message`` event per message: ``id:`` is the message id, ``data:`` the JSON object a
  receive returns (a queue stream's carries its receipt handle);
- a comment line every ``heartbeat`` seconds without a message, so proxies and clients can tell
  a quiet stream from a dead connection;
- ``event: dropped`` on a topic stream that fell too far behind (``data: {"dropped": N}``);
- ``event: error`` with a problem object if the queue or storage fails mid-stream, then the end;
- on server stop, ``event: end`` and the end of the answer: clients reconnect elsewhere.

``Last-Event-ID`` (sent by EventSource on reconnecting) is accepted and changes nothing: the
queue itself remembers what was not deleted, and a topic stream stores nothing to replay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ems.asgi import PathArgs, Receive, Scope, Send, dumps, query, watch_disconnect
from ems.core import limits
from ems.core.encoding import encode_body
from ems.core.errors import EmsError, InvalidRequest, quoted
from ems.core.queue_access import Use
from ems.core.queues import QueueService, ReceivedMessage
from ems.core.stream_hub import Slot, StreamHub
from ems.core.streams import DEFAULT_MAX_IN_FLIGHT, QueueStream
from ems.core.topic_models import TopicMessage
from ems.core.topics import TopicService
from ems.server import problems
from ems.server.message_answers import delivery_document

QUEUE_STREAM_PARAMS: Final = frozenset(
    {"visibility_timeout", "max_in_flight", "delete", "correlation_id"}
)
TOPIC_STREAM_PARAMS: Final = frozenset[str]()
QUEUE_STREAM_ROUTE: Final = "/ems/queue/{id}/stream"
TOPIC_STREAM_ROUTE: Final = "/ems/topic/{id}/stream"
EVENT_STREAM: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    # nginx buffers answers by default, which would hold events back: this turns it off
    (b"x-accel-buffering", b"no"),
]
RETRY_MS: Final = 3000
_BOOLEAN: Final = {"true": True, "false": False}

# which client a request comes from (the address, behind trusted proxies the forwarded one)
ClientOf = Callable[[Scope], str]


def _event(name: str | None, data: object, event_id: str | None = None) -> bytes:
    # JSON escapes CR and LF: the data is always one line
    lines = [] if event_id is None else [b"id: " + event_id.encode()]
    if name is not None:
        lines.append(b"event: " + name.encode())
    lines.append(b"data: " + dumps(data).rstrip(b"\n"))
    return b"\n".join(lines) + b"\n\n"


def topic_message_document(message: TopicMessage) -> dict[str, Any]:
    body, encoding = encode_body(message.body)
    return {
        "message_id": message.message_id,
        "body": body,
        "body_encoding": encoding,
        "content_type": message.content_type,
        "correlation_id": message.correlation_id,
        "attributes": dict(message.attributes or {}),
    }


class StreamHandlers:
    def __init__(
        self,
        queues: QueueService,
        topics: TopicService,
        hub: StreamHub,
        client_of: ClientOf,
        *,
        heartbeat_seconds: float = 15.0,
    ) -> None:
        self.queues = queues
        self.topics = topics
        self.hub = hub
        self.client_of = client_of
        self.heartbeat_seconds = heartbeat_seconds

    async def queue_stream(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        queue_id = path["id"]
        params = query(scope, QUEUE_STREAM_PARAMS)
        delete = _boolean(params.get("delete", "false"), "delete")
        correlation_id = params.get("correlation_id")
        if correlation_id is not None:
            correlation_id = limits.check_correlation_id(correlation_id)
        record = (await self.queues.find_queue(queue_id, Use.RECEIVE)).record
        timeout = _param(params, limits.STREAM_VISIBILITY_TIMEOUT)
        if timeout is None:
            timeout = record.config.visibility_timeout
            if timeout == 0:
                raise InvalidRequest(
                    "This queue's visibility_timeout is 0, which would stream the same message "
                    "endlessly; give the stream one with ?visibility_timeout=N (1 to 43200).",
                    parameter="visibility_timeout",
                )
        stream = QueueStream(
            self.queues,
            queue_id,
            record.key,
            visibility_timeout=timeout,
            max_in_flight=_param(params, limits.MAX_IN_FLIGHT) or DEFAULT_MAX_IN_FLIGHT,
            delete=delete,
            correlation_id=correlation_id,
        )
        slot = self.hub.admit("queue", self.client_of(scope), record.key)

        async def run(stop: asyncio.Future[Any], write: Callable[[bytes], Awaitable[None]]) -> None:
            while not stop.done():
                deliveries = await stream.next(self.heartbeat_seconds, stop)
                if stop.done() or self.hub.closed:
                    # the server stopped: what was claimed comes back after its timeout
                    return
                if not deliveries:
                    await write(b": keep-alive\n\n")
                    continue
                await write(b"".join(_delivery_event(d) for d in deliveries))
                self.hub.events["queue"] += len(deliveries)
                await stream.written(deliveries)

        return await self._serve(scope, slot, receive, send, run)

    async def topic_stream(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, TOPIC_STREAM_PARAMS)
        h = await self.topics.topic_for_streaming(path["id"])
        slot = self.hub.admit("topic", self.client_of(scope), h)
        listener = self.hub.listen(h)

        async def run(stop: asyncio.Future[Any], write: Callable[[bytes], Awaitable[None]]) -> None:
            while not stop.done():
                await listener.wait(self.heartbeat_seconds, stop)
                if stop.done():
                    return
                pieces = []
                if listener.dropped:
                    pieces.append(_event("dropped", {"dropped": listener.dropped}))
                    listener.dropped = 0
                messages = list(listener.messages)
                listener.messages.clear()
                pieces += [
                    _event("message", topic_message_document(m), m.message_id) for m in messages
                ]
                await write(b"".join(pieces) if pieces else b": keep-alive\n\n")
                self.hub.events["topic"] += len(messages)

        try:
            return await self._serve(scope, slot, receive, send, run)
        finally:
            self.hub.unlisten(h, listener)

    async def _serve(
        self,
        scope: Scope,
        slot: Slot,
        receive: Receive,
        send: Send,
        run: Callable[[asyncio.Future[Any], Callable[[bytes], Awaitable[None]]], Awaitable[None]],
    ) -> int:
        """Answer with an event stream that ``run`` writes until the client leaves or the
        server stops; the slot is given back whatever happens."""
        if scope["method"] == "HEAD":
            # the checks and the headers, and nothing claimed: a HEAD must not take messages
            slot.close()
            await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM})
            await send({"type": "http.response.body", "body": b""})
            return 200
        stop = slot.stop
        watcher = asyncio.get_running_loop().create_task(watch_disconnect(receive))
        watcher.add_done_callback(lambda _: _resolve(stop))

        async def write(piece: bytes) -> None:
            await send({"type": "http.response.body", "body": piece, "more_body": True})

        try:
            await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM})
            await write(b"retry: %d\n\n" % RETRY_MS)
            try:
                await run(stop, write)
            except EmsError as error:
                # the queue went away, or storage failed: say so in the stream, then end it
                await write(_event("error", problems.problem(error)))
            if self.hub.closed:
                await write(_event("end", {"reason": "the server is stopping; reconnect"}))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return 200
        finally:
            slot.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _delivery_event(delivery: ReceivedMessage) -> bytes:
    return _event("message", delivery_document(delivery), delivery.message.message_id)


def _param(params: dict[str, str], bound: limits.Bound) -> int | None:
    text = params.get(bound.name)
    return None if text is None else bound.parse(text)


def _boolean(text: str, name: str) -> bool:
    value = _BOOLEAN.get(text)
    if value is None:
        raise InvalidRequest(f"{name} must be true or false; got {quoted(text)}.", parameter=name)
    return value


def _resolve(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)
