"""A small HTTP/1.1 client for webhook pushes.

Why not httpx: a push must go to the exact addresses the SSRF guard checked (so DNS rebinding
cannot redirect it), redirects are never followed, only the start of a response is read, and
hundreds of concurrent pushes must not contend on one pool lock. Responses are parsed with
httptools, which uvicorn already brings.

An endpoint is not trusted to answer sensibly. What is read of an answer is bounded: its header
section must fit in ``max_response_bytes`` (an endless one used to be buffered whole, and
re-copied by the parser on every read, which took memory and the event loop from every other
push), at most that many body bytes are read, and the caller's timeout covers the whole
exchange, so an endpoint that trickles its answer a byte at a time holds one push slot for
that long and no more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass, field

import httptools

from ems.delivery.ssrf import AddressPolicy, Destination, resolve

MAX_RESPONSE_BYTES = 64 * 1024
# several subscriptions often share one host, each with up to max_concurrency pushes in flight:
# keeping fewer idle connections than that would reconnect on most pushes
MAX_IDLE_PER_ORIGIN = 128


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class OversizedAnswer(ConnectionError):
    """The endpoint's header section is larger than EMS reads."""


class _Reader:
    """httptools callbacks collecting one response."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parser = httptools.HttpResponseParser(self)
        self.keep_alive = False
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.truncated = False
        self.headers_done = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        room = self.limit - len(self.body)
        if len(body) > room:
            self.truncated = True
        self.body += body[:room]

    def on_message_complete(self) -> None:
        self.complete = True
        # only meaningful inside a callback: the parser resets once the message is complete
        self.keep_alive = self.parser.should_keep_alive()


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


@dataclass
class WebhookClient:
    policy: AddressPolicy
    user_agent: str = "EMS-Webhooks"
    max_response_bytes: int = MAX_RESPONSE_BYTES
    _idle: dict[tuple[str, str, int], list[_Connection]] = field(default_factory=dict)
    _tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)

    async def post(
        self, url: str, headers: dict[str, str], body: bytes, *, seconds: float
    ) -> Response:
        """POST ``body`` within ``seconds``; raise ForbiddenWebhookUrl, OSError or TimeoutError."""
        async with asyncio.timeout(seconds):
            destination = await resolve(url, self.policy)
            request = self._request(destination, headers, body)
            connection = self._take_idle(destination)
            if connection is not None:
                try:
                    return await self._exchange(destination, connection, request)
                except OversizedAnswer:
                    raise  # it answered, too much: asking again would get the same
                except (OSError, ConnectionError, httptools.HttpParserError):
                    pass  # the server closed an idle connection: open a new one
            connection = await self._connect(destination)
            return await self._exchange(destination, connection, request)

    def _request(self, destination: Destination, headers: dict[str, str], body: bytes) -> bytes:
        lines = [
            f"POST {destination.target} HTTP/1.1",
            f"Host: {destination.host_header}",
            f"User-Agent: {self.user_agent}",
            f"Content-Length: {len(body)}",
        ]
        if destination.username is not None:
            credentials = f"{destination.username}:{destination.password or ''}".encode()
            lines.append("Authorization: Basic " + base64.b64encode(credentials).decode())
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body

    def _take_idle(self, destination: Destination) -> _Connection | None:
        idle = self._idle.get(destination.origin)
        while idle:
            connection = idle.pop()
            if not connection.writer.is_closing():
                return connection
        return None

    async def _connect(self, destination: Destination) -> _Connection:
        tls = self._tls if destination.scheme == "https" else None
        last_error: OSError | None = None
        for address in destination.addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    destination.port,
                    ssl=tls,
                    server_hostname=destination.host if tls else None,
                )
            except OSError as error:
                last_error = error
                continue
            return _Connection(reader, writer)
        raise last_error or OSError(f"no address to connect to for {destination.host}")

    async def _exchange(
        self, destination: Destination, connection: _Connection, request: bytes
    ) -> Response:
        reusable = False
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            limit = self.max_response_bytes
            collected = _Reader(limit)
            parser = collected.parser
            head = 0  # bytes read before the header section ended
            while not collected.complete and not collected.truncated:
                data = await connection.reader.read(65536)
                if not data:
                    if collected.headers_done:
                        break  # a body delimited by closing the connection
                    raise ConnectionError("the server closed the connection before answering")
                if not collected.headers_done:
                    head += len(data)
                parser.feed_data(data)
                if not collected.headers_done and head > limit:
                    raise OversizedAnswer(f"its header section is over {limit} bytes")
            status = parser.get_status_code()
            reusable = collected.complete and collected.keep_alive
            return Response(status, collected.headers, bytes(collected.body))
        finally:
            if reusable:
                idle = self._idle.setdefault(destination.origin, [])
                if len(idle) < MAX_IDLE_PER_ORIGIN:
                    idle.append(connection)
                else:
                    connection.close()
            else:
                connection.close()

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await connection.writer.wait_closed()
        self._idle.clear()
