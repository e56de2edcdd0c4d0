"""Messages as JSON answers: what receive and peek send, whole when small, streamed when large.

A receive may carry 100 messages and a peek 1000, each up to 1 MiB: built whole, such an
answer held about five times its stored bytes (the bodies, their JSON text, its bytes, the
transport's copy) until the client had read it all, and rendering it blocked the event loop
for seconds. Here each message is rendered and written on its own through a
:class:`~ems.asgi.BodyWriter`, which streams once the answer is large and waits for the
client as it goes; a peek also reads the store :data:`PEEK_FETCH` messages at a time and stops
at ``--max-response-bytes`` with a ``next`` cursor. The receive of small messages, the hot path,
still renders its answer in one call.
"""

from __future__ import annotations

from typing import Any, Final

from ems.asgi import JSON, STREAM_AT, BodyWriter, Send, dumps, respond
from ems.core.encoding import encode_body, rfc3339
from ems.core.errors import EmsError
from ems.core.models import PeekResult, StoredMessage
from ems.core.queues import QueueService, ReceivedMessage

# messages a peek reads from the store at a time: at most this many MiB in memory at once
PEEK_FETCH: Final = 8


def message_document(message: StoredMessage) -> dict[str, Any]:
    body, encoding = encode_body(message.body)
    return {
        "message_id": message.message_id,
        "body": body,
        "body_encoding": encoding,
        "correlation_id": message.correlation_id,
        "attributes": dict(message.attributes),
        "receive_count": message.receive_count,
        "sent_at": rfc3339(message.sent_at_ms),
        "first_received_at": rfc3339(message.first_received_at_ms),
        # a FIFO message's group, and its place: increasing within the group
        **(
            {}
            if message.group_id is None
            else {"group_id": message.group_id, "sequence_number": str(message.seq)}
        ),
    }


def delivery_document(delivery: ReceivedMessage) -> dict[str, Any]:
    return {"receipt_handle": delivery.receipt_handle, **message_document(delivery.message)}


async def answer_deliveries(send: Send, deliveries: list[ReceivedMessage]) -> int:
    """The answer to a receive."""
    if sum(len(d.message.body) for d in deliveries) < STREAM_AT:
        return await respond(
            send, 200, dumps({"messages": [delivery_document(d) for d in deliveries]}), JSON
        )
    out = BodyWriter(send, 200, JSON)
    await out.write(b'{"messages":[')
    for i, delivery in enumerate(deliveries):
        piece = dumps(delivery_document(delivery))
        await out.write(b"," + piece if i else piece)
    await out.write(b"]}")
    return await out.close()


async def answer_peek(
    send: Send,
    service: QueueService,
    queue_id: str,
    page: PeekResult,
    *,
    limit: int,
    budget: int,
) -> int:
    """The answer to a peek of up to ``limit`` messages whose first ``page`` was read (so that
    a bad id is refused before the answer starts); it stops once it holds ``budget`` bytes."""
    now = service.store.clock.now_ms()
    out = BodyWriter(send, 200, JSON)
    await out.write(b'{"messages":[')
    count = 0
    last: int | None = None  # the seq of the last message written: the next cursor
    while True:
        full = False
        for message in page.messages:
            piece = dumps(peeked_document(message, now))
            if count and out.size + len(piece) > budget:
                full = True
                break
            await out.write(b"," + piece if count else piece)
            count += 1
            last = message.seq
        if full or count >= limit:
            break
        if page.next_after is None:
            last = None  # the queue has no more
            break
        try:
            page = await service.peek(
                queue_id, after=page.next_after, limit=min(limit - count, PEEK_FETCH)
            )
        except EmsError:
            break  # the queue went away meanwhile: this page ends, `next` says where
    cursor = b"null" if last is None else b'"%d"' % last
    await out.write(b'],"next":' + cursor + b"}")
    return await out.close()


def peeked_document(message: StoredMessage, now_ms: int) -> dict[str, Any]:
    document = message_document(message)
    document["state"] = (
        "visible"
        if message.visible_at_ms <= now_ms
        else "in_flight"
        if message.receive_count
        else "delayed"
    )
    document["visible_at"] = rfc3339(message.visible_at_ms)
    return document
