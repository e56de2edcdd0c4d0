"""Minimal ASGI plumbing for EMS's handlers: bounded body reads, queries, responses.

Shared by the native API (``ems.server``) and the AWS-compatible APIs (``ems.sqs``, ``ems.sns``),
so it sits below all three rather than inside one of them.

EMS talks raw ASGI rather than through a framework: the send/receive/delete path is the product,
and a framework's per-request machinery would cost more than the rest of that path together.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl

from ems.core.errors import (
    EmsError,
    InvalidRequest,
    MessageTooLarge,
    RequestTooLarge,
    quoted,
    redacted,
)
from ems.core.json_input import parse_batch, parse_json
from ems.core.limits import MAX_BATCH_ENTRIES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# the named segments of the route a request matched: {"queue_id": ...} for /ems/queue/{queue_id}
PathArgs = dict[str, str]
# what a route resolves to: answers the request, returns the status it answered with
Handler = Callable[[Scope, Receive, Send, PathArgs], Awaitable[int]]

JSON: Final = [(b"content-type", b"application/json")]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def query(scope: Scope, allowed: frozenset[str]) -> dict[str, str]:
    """Query parameters, refusing names the endpoint does not know (typos fail loudly)."""
    raw: bytes = scope["query_string"]
    if not raw:
        return {}
    try:
        pairs = _pairs(raw.decode())
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The query string is not valid URL-encoded UTF-8.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise InvalidRequest(
                f"Unknown query parameter {quoted(name)}; this endpoint takes: "
                f"{', '.join(sorted(allowed)) or 'none'}.",
                parameter=redacted(name),
            )
        if name in params:
            raise InvalidRequest(f"Query parameter {name!r} is given twice.", parameter=name)
        params[name] = value
    return params


def _pairs(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, strict_parsing=True)``; a query with nothing
    to unquote (no ``%`` or ``+``: ``?max_messages=10&visibility_timeout=60``) is split here
    without it, which costs a fraction of parse_qsl's per-field work (every receive has one)."""
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    pairs = []
    for field in text.split("&"):
        name, equals, value = field.partition("=")
        if not equals:  # strict: every field is name=value (an empty field included)
            raise ValueError(f"bad query field: {field!r}")
        pairs.append((name, value))
    return pairs


async def read_body(
    scope: Scope, receive: Receive, limit: int, *, too_large: type[EmsError] = RequestTooLarge
) -> bytes:
    """The request body, refused as soon as it is known to exceed ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading anything; a chunked
    upload is refused at the first chunk that crosses the limit, so no client can make the
    server buffer more than ``limit`` bytes.

    A body is only ever the whole body: a client that disconnects at any point, even before
    the first chunk (the server then hands over no body at all, not an empty one), or that
    sends fewer bytes than its Content-Length, gets nothing stored from a request it abandoned.
    """
    declared = header(scope, b"content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise _too_large(too_large, expected, limit)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _too_large(too_large, len(body), limit)
    else:
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(too_large, size, limit, at_least=True)
            chunks.append(chunk)
        body = b"".join(chunks)
    if expected is not None and len(body) != expected:
        raise ClientDisconnected(
            f"The body has {len(body)} bytes, but Content-Length said {expected}."
        )
    return body


class ClientDisconnected(InvalidRequest):
    """The request's body did not arrive whole; nothing of it was used."""

    default_detail = "The client disconnected before sending the whole body."


def _too_large(cls: type[EmsError], size: int, limit: int, *, at_least: bool = False) -> EmsError:
    what = "message body" if cls is MessageTooLarge else "request body"
    amount = f"more than {limit}" if at_least else str(size)
    return cls(f"The {what} is {amount} bytes; the limit is {limit} bytes.")


async def read_json(scope: Scope, receive: Receive, limit: int, *, optional: bool = False) -> Any:
    body = await read_body(scope, receive, limit)
    if not body.strip():
        if optional:
            return None
        raise InvalidRequest("The request needs a JSON body.")
    document = parse_json(body)
    if document is None:
        # an optional body is left out, not sent as null (which would read as "no options")
        raise InvalidRequest("The body must be a JSON object, not null.")
    return document


async def read_batch(scope: Scope, receive: Receive, limit: int, field: str) -> list[Any]:
    """The entries of a ``{"<field>": [...]}`` batch body (see :func:`parse_batch`)."""
    return await parse_batch(await read_body(scope, receive, limit), field, MAX_BATCH_ENTRIES)


def dumps(document: object) -> bytes:
    """JSON as EMS answers it: UTF-8, compact, ending with a newline (so a shell prompt after
    curl starts on a line of its own). Text that cannot be UTF-8 (a lone surrogate in data stored
    before it was refused, or echoed in a problem) is escaped, never a crash."""
    text = _COMPACT.encode(document) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError:
        return (_COMPACT_ASCII.encode(document) + "\n").encode()


# made once: json.dumps with any option builds a new encoder on every call
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_COMPACT_ASCII: Final = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


async def watch_disconnect(receive: Receive) -> None:
    """Completes when the client hangs up (the request body has already been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    """Send a whole response; returns its status (for metrics and the access log)."""
    # an explicit length spares every response chunked framing; 204 and 304 carry none
    framing = [] if status in (204, 304) else [(b"content-length", b"%d" % len(body))]
    await send(
        {"type": "http.response.start", "status": status, "headers": (headers or []) + framing}
    )
    await send({"type": "http.response.body", "body": body})
    return status


async def respond_json(
    send: Send, status: int, document: object, extra: list[tuple[bytes, bytes]] | None = None
) -> int:
    return await respond(send, status, dumps(document), JSON + extra if extra else JSON)


# past this many bytes a response body is sent as it is made, in pieces, instead of whole
STREAM_AT: Final = 256 * 1024


class BodyWriter:
    """A response body that is sent whole while small and streamed once it grows large.

    A large answer (a peek or receive of big messages) built whole would hold its JSON, its
    bytes and the transport's copy at once: about five times the stored bytes, for as long as
    the client takes to read it. Written here piece by piece, it goes out in chunks of about
    :data:`STREAM_AT` bytes, and each chunk waits until the client has taken the one before
    (uvicorn's ``send`` waits while the socket's buffer is full): what one response holds in
    memory is then a chunk, whatever its size and however slow its reader. A small answer still
    goes out as one body with a ``Content-Length``.
    """

    __slots__ = ("_buffered", "_headers", "_pieces", "_send", "_started", "size", "status")

    def __init__(self, send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._send = send
        self.status = status
        self._headers = headers
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._started = False
        self.size = 0  # bytes written so far

    async def write(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._buffered += len(piece)
        self.size += len(piece)
        if self._buffered >= STREAM_AT:
            await self._flush(more=True)

    async def close(self) -> int:
        """Send what is left; the status (for metrics)."""
        if not self._started:
            return await respond(self._send, self.status, self._take(), self._headers)
        await self._flush(more=False)
        return self.status

    def _take(self) -> bytes:
        pieces = self._pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._pieces = []
        self._buffered = 0
        return body

    async def _flush(self, *, more: bool) -> None:
        if not self._started:
            self._started = True
            # no Content-Length: the server frames the body as chunks
            await self._send(
                {"type": "http.response.start", "status": self.status, "headers": self._headers}
            )
        await self._send({"type": "http.response.body", "body": self._take(), "more_body": more})
        # a fast reader never makes send() wait: let other requests in between the pieces
        await asyncio.sleep(0)
