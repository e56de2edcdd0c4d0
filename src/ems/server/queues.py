"""HTTP handlers for ``/ems/queue``: the native queue API.

Handlers parse and validate the request, call the queue service, and render JSON. The send,
receive and delete handlers are the hot path: they avoid every allocation they can.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from ems.asgi import (
    JSON,
    Handler,
    PathArgs,
    Receive,
    Scope,
    Send,
    query,
    read_batch,
    read_body,
    read_json,
    respond,
    respond_json,
    watch_disconnect,
)
from ems.core import limits
from ems.core.errors import (
    InvalidRequest,
    MessageTooLarge,
    quoted,
)
from ems.core.idempotency import KeyedSend
from ems.core.ids import new_message_id, new_message_ids
from ems.core.models import NewMessage, ReceiveRequest
from ems.core.queue_access import Use
from ems.core.queues import (
    QueueService,
)
from ems.server import fifo_sends, idempotent_sends
from ems.server.message_answers import PEEK_FETCH, answer_deliveries, answer_peek
from ems.server.message_input import attributes_from_headers, batch_message
from ems.server.queue_documents import (
    batch_results,
    new_queue_document,
    queue_document,
    stats_document,
)
from ems.server.routing import Route

SEND_PARAMS: Final = frozenset({"correlation_id", "delay_seconds"})
RECEIVE_PARAMS: Final = frozenset(
    {"max_messages", "wait_seconds", "visibility_timeout", "correlation_id"}
)
VISIBILITY_PARAMS: Final = frozenset({"visibility_timeout"})
PEEK_PARAMS: Final = frozenset({"max_messages", "after"})
NO_PARAMS: Final = frozenset[str]()
MESSAGE_ROUTE: Final = "/ems/queue/{id}/message/{receipt_handle}"
# who may create queues or topics: returns (owner, quota) or raises Unauthorized
CreationCheck = Callable[[Scope, str], tuple[str | None, int | None]]


class QueueHandlers:
    def __init__(
        self,
        service: QueueService,
        authorize_creation: CreationCheck,
        *,
        max_response_bytes: int = 16 * 1024 * 1024,
        stream: Handler | None = None,
    ) -> None:
        self.service = service
        self.authorize_creation = authorize_creation
        self.max_response_bytes = max_response_bytes
        self.routes = [
            Route("/ems/queue", {"POST": self.create}, "/ems/queue"),
            Route("/ems/queue/{id}", {"GET": self.describe, "PATCH": self.update,
                                      "DELETE": self.delete_queue}),
            # HEAD must not receive: answering it would hide messages nobody gets to see
            Route("/ems/queue/{id}/message",
                  {"POST": self.send, "GET": self.receive, "HEAD": self.receive_head}),
            # declared (so tried) before the batch routes of its length: one message deleted
            # is the more common request
            Route(MESSAGE_ROUTE, {"DELETE": self.delete_message, "PATCH": self.change_visibility},
                  "a message's receipt handle"),
            Route("/ems/queue/{id}/messages", {"POST": self.send_batch}),
            Route("/ems/queue/{id}/messages/delete", {"POST": self.delete_batch}),
            Route("/ems/queue/{id}/messages/visibility", {"POST": self.change_visibility_batch}),
            Route("/ems/queue/{id}/purge", {"POST": self.purge}),
            Route("/ems/queue/{id}/rotate", {"POST": self.rotate}),
            Route("/ems/queue/{id}/peek", {"GET": self.peek}),
        ]  # fmt: skip
        if stream is not None:  # the live stream (server/streams.py)
            self.routes.append(Route("/ems/queue/{id}/stream", {"GET": stream}))

    async def create(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES, optional=True)
        owner, quota = self.authorize_creation(scope, "queues")
        created = await self.service.create_queue(document, owner=owner, quota=quota)
        location = f"/ems/queue/{created.view.queue_id}".encode()
        return await respond_json(send, 201, new_queue_document(created), [(b"location", location)])

    async def rotate(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        rotated = await self.service.rotate(path["id"])
        return await respond_json(
            send,
            200,
            {"queue_id": path["id"], "send_id": rotated.send_id, "receive_id": rotated.receive_id},
        )

    async def describe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        view, stats = await self.service.describe_queue(path["id"])
        document = queue_document(view)
        document.update(stats_document(stats, self.service.store.clock.now_ms()))
        return await respond_json(send, 200, document)

    async def update(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        await self.service.find_queue(path["id"], Use.OWN)
        document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES)
        view = await self.service.update_queue(path["id"], document)
        return await respond_json(send, 200, queue_document(view))

    async def delete_queue(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        await self.service.delete_queue(path["id"])
        return await respond(send, 204)

    async def purge(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        await self.service.purge_queue(path["id"])
        return await respond(send, 204)

    # messages

    async def send(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        queue_id = path["id"]
        # look the queue up before reading the body: an unknown queue costs no upload, and
        # the body is refused as soon as it crosses this queue's limit
        target = await self.service.find_queue(queue_id, Use.SEND)
        record = target.record
        correlation_id = None
        delay = None
        if scope["query_string"]:
            params = query(scope, SEND_PARAMS)
            if "correlation_id" in params:
                correlation_id = limits.check_correlation_id(params["correlation_id"])
            if "delay_seconds" in params:
                delay = limits.DELAY.parse(params["delay_seconds"])
        attributes = attributes_from_headers(scope)
        key = idempotent_sends.header_key(scope)
        group, deduplication = fifo_sends.headers(scope)
        body = await read_body(
            scope, receive, record.config.max_message_bytes, too_large=MessageTooLarge
        )
        message_id = new_message_id()
        message, key_hash = fifo_sends.keyed_message(
            record.config.fifo,
            NewMessage(message_id, body, correlation_id, attributes, delay),
            group,
            deduplication,
            key,
        )
        if key_hash is not None:
            keyed = KeyedSend([message], [key_hash])
            (original,) = await self.service.send_keyed(target, keyed)
            return await idempotent_sends.answer_send(send, message_id, original)
        await self.service.send(target, [message])
        return await respond(send, 201, b'{"message_id":"' + message_id.encode() + b'"}\n', JSON)

    async def send_batch(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        queue_id = path["id"]
        target = await self.service.find_queue(queue_id, Use.SEND)
        entries = await read_batch(scope, receive, limits.MAX_BATCH_REQUEST_BYTES, "messages")
        max_bytes = target.record.config.max_message_bytes
        ids = new_message_ids(len(entries))
        messages = [batch_message(i, entry, max_bytes, ids[i]) for i, entry in enumerate(entries)]
        key_texts = idempotent_sends.batch_key_texts(entries, idempotent_sends.header_key(scope))
        messages, keys = fifo_sends.batch(target.record.config.fifo, entries, messages, key_texts)
        if keys is not None:
            originals = await self.service.send_keyed(target, KeyedSend(messages, keys))
            return await idempotent_sends.answer_batch(send, ids, originals)
        await self.service.send(target, messages)
        # the ids are UUIDs made here (hex digits and hyphens): nothing in them needs escaping
        ids_text = '","'.join([m.message_id for m in messages]).encode()
        return await respond(send, 201, b'{"message_ids":["' + ids_text + b'"]}\n', JSON)

    async def receive(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        queue_id = path["id"]
        params = query(scope, RECEIVE_PARAMS)
        request = ReceiveRequest(
            max_messages=_param(params, limits.MAX_MESSAGES) or 1,
            visibility_timeout=_param(params, limits.VISIBILITY_TIMEOUT),
            correlation_id=(
                limits.check_correlation_id(params["correlation_id"])
                if "correlation_id" in params
                else None
            ),
        )
        wait = _param(params, limits.WAIT)
        if wait is None:
            wait = (
                await self.service.find_queue(queue_id, Use.RECEIVE)
            ).record.config.receive_wait_seconds
        watcher: asyncio.Task[None] | None = None
        if wait > 0:
            watcher = asyncio.get_running_loop().create_task(watch_disconnect(receive))
        try:
            deliveries = await self.service.receive(
                queue_id, request, wait_seconds=wait, disconnected=watcher
            )
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        return await answer_deliveries(send, deliveries)

    async def receive_head(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        """HEAD of a receive: the same checks and headers, and no message leaves the queue."""
        query(scope, RECEIVE_PARAMS)
        await self.service.find_queue(path["id"], Use.RECEIVE)
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await send({"type": "http.response.body", "body": b""})
        return 200

    async def delete_message(
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        query(scope, NO_PARAMS)
        await self.service.delete_message(path["id"], path["receipt_handle"])
        return await respond(send, 204)

    async def change_visibility(
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        params = query(scope, VISIBILITY_PARAMS)
        timeout = _param(params, limits.VISIBILITY_TIMEOUT)
        if timeout is None:
            raise InvalidRequest(
                "Give the new timeout as ?visibility_timeout=N (seconds from now, 0 to 43200; "
                "0 makes the message visible at once).",
                parameter="visibility_timeout",
            )
        await self.service.change_visibility(path["id"], path["receipt_handle"], timeout)
        return await respond(send, 204)

    async def delete_batch(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        handles = await read_batch(
            scope, receive, limits.MAX_JSON_REQUEST_BYTES * 16, "receipt_handles"
        )
        for i, handle in enumerate(handles):
            if not isinstance(handle, str):
                raise InvalidRequest(f"receipt_handles[{i}] must be a string.")
        outcomes = await self.service.delete_messages(path["id"], handles)
        return await respond_json(send, 200, {"results": batch_results(handles, outcomes)})

    async def change_visibility_batch(
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        query(scope, NO_PARAMS)
        batch = await read_batch(scope, receive, limits.MAX_JSON_REQUEST_BYTES * 16, "entries")
        entries: list[tuple[str, int]] = []
        for i, entry in enumerate(batch):
            if (
                not isinstance(entry, dict)
                or set(entry) != {"receipt_handle", "visibility_timeout"}
                or not isinstance(entry["receipt_handle"], str)
            ):
                raise InvalidRequest(
                    f'entries[{i}] must be {{"receipt_handle": "...", "visibility_timeout": N}}.'
                )
            try:
                timeout = limits.VISIBILITY_TIMEOUT.check(entry["visibility_timeout"])
            except InvalidRequest as error:
                raise InvalidRequest(f"entries[{i}]: {error.detail}") from None
            entries.append((entry["receipt_handle"], timeout))
        outcomes = await self.service.change_visibilities(path["id"], entries)
        return await respond_json(
            send, 200, {"results": batch_results([h for h, _ in entries], outcomes)}
        )

    async def peek(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        """Up to max_messages messages, read PEEK_FETCH at a time and streamed; the answer
        stops early, with a ``next`` cursor, once it holds max_response_bytes of JSON."""
        params = query(scope, PEEK_PARAMS)
        limit = _param(params, limits.PEEK_MESSAGES) or 10
        after = limits.parse_cursor(params["after"], "peek") if "after" in params else None
        queue_id = path["id"]
        # the first read happens before the answer starts: a bad id is still a clean 4xx
        page = await self.service.peek(queue_id, after=after, limit=min(limit, PEEK_FETCH))
        return await answer_peek(
            send, self.service, queue_id, page, limit=limit, budget=self.max_response_bytes
        )


def _param(params: dict[str, str], bound: limits.Bound) -> int | None:
    text = params.get(bound.name)
    return None if text is None else bound.parse(text)


def route_not_found(parts: list[str]) -> str:
    """What a 404 under ``/ems/queue`` says (``parts``: the path after ``/ems/queue``)."""
    return (
        f"No such resource under /ems/queue/{{queue_id}}: {quoted('/' + '/'.join(parts[1:]), 80)}."
    )
