"""``Client.stream`` and ``AsyncClient.stream``: a queue's messages as they arrive, over the
server's live stream (``GET /ems/queue/{id}/stream``, docs/streams.md).

Each message is in flight until it is acknowledged (:meth:`MessageStream.ack` deletes it); one
that is not comes back after its visibility timeout, to this stream or another consumer. When
the connection drops, the server stops or answers with a server error (5xx: storage down, too
many connections), the stream reconnects after the server's ``retry`` hint (with
``reconnect=False`` it ends, or raises the error, instead); nothing is lost meanwhile, since the
queue keeps whatever was not acknowledged. A client error (an unknown queue, a ``send_id``, too
many streams) is raised.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Final

import httpx

from ems.client import errors
from ems.client.base import translate
from ems.client.calls import quote_id, raise_for_problem
from ems.client.models import Message
from ems.client.sse import Event, EventParser

# a stream sends a heartbeat at least every 15 s: this much silence means the connection is dead
READ_TIMEOUT: Final = 60.0
DEFAULT_RETRY: Final = 3.0


def stream_request(
    queue_id: str,
    *,
    visibility_timeout: int | None,
    max_in_flight: int | None,
    delete: bool,
    correlation_id: str | None,
) -> tuple[str, dict[str, str]]:
    """The path and query of a queue's stream."""
    params = {
        "visibility_timeout": visibility_timeout,
        "max_in_flight": max_in_flight,
        "delete": "true" if delete else None,
        "correlation_id": correlation_id,
    }
    path = f"/ems/queue/{quote_id(queue_id)}/stream"
    return path, {k: str(v) for k, v in params.items() if v is not None}


class _Again(Exception):
    """The server cannot serve the stream now (a 5xx answer or problem event): reconnect."""


class _Events:
    """What both streams do with an event: a message, a problem, the server's stop."""

    def __init__(
        self, request: tuple[str, dict[str, str]], *, connect_timeout: float, reconnect: bool
    ) -> None:
        self.reconnect = reconnect
        self.parser = EventParser()
        self.closed = False
        self._path, self._params = request
        self._timeout = httpx.Timeout(connect_timeout, read=READ_TIMEOUT)
        self._response: httpx.Response | None = None

    def message(self, event: Event) -> Message | None:
        if event.event == "message":
            return Message.from_json(json.loads(event.data))
        if event.event == "error":
            problem = json.loads(event.data)
            self.refused(int(problem.get("status", 500)), problem)
        return None  # "end" (the server stops: the connection ends next) or unknown

    def refused(self, status: int, problem: dict[str, Any]) -> None:
        """A problem that ends the stream: the server's (5xx) is waited out when reconnecting;
        the client's (4xx: an unknown queue, too many streams) is raised."""
        if status >= 500 and self.reconnect:
            raise _Again()
        raise errors.from_response(status, problem, None)

    def refused_answer(self, response: httpx.Response) -> None:
        """The same for an answer that is not 2xx (read in full): 5xx reconnects, 4xx raises."""
        if response.status_code >= 500 and self.reconnect:
            raise _Again()
        raise_for_problem(response)

    @property
    def retry_seconds(self) -> float:
        retry = self.parser.retry_ms
        return DEFAULT_RETRY if retry is None else retry / 1000

    def headers(self) -> dict[str, str]:
        last = self.parser.last_id
        return {"accept": "text/event-stream", **({"last-event-id": last} if last else {})}


class MessageStream(_Events):
    """A queue's messages as they arrive (blocking). Iterate it; acknowledge with :meth:`ack`."""

    def __init__(
        self,
        http: httpx.Client,
        request: tuple[str, dict[str, str]],
        delete: Callable[[str], None],
        *,
        connect_timeout: float,
        reconnect: bool,
    ) -> None:
        super().__init__(request, connect_timeout=connect_timeout, reconnect=reconnect)
        self._http = http
        self._delete = delete

    def __iter__(self) -> Iterator[Message]:
        while not self.closed:
            try:
                yield from self._connection()
            except _Again:
                pass
            except httpx.HTTPError as error:
                if not self.reconnect or self.closed:
                    raise translate(error) from error
            if not self.reconnect or self.closed:
                return
            time.sleep(self.retry_seconds)

    def _connection(self) -> Iterator[Message]:
        request = self._http.build_request(
            "GET", self._path, params=self._params, headers=self.headers(), timeout=self._timeout
        )
        response = self._response = self._http.send(request, stream=True)
        try:
            if not response.is_success:
                response.read()
                self.refused_answer(response)
            for line in response.iter_lines():
                event = self.parser.feed(line)
                if event is not None and (message := self.message(event)) is not None:
                    yield message
        finally:
            response.close()
            self._response = None

    def ack(self, message: Message) -> None:
        """Done with ``message``: delete it from the queue."""
        self._delete(message.receipt_handle)

    def close(self) -> None:
        self.closed = True
        if self._response is not None:
            self._response.close()

    def __enter__(self) -> MessageStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncMessageStream(_Events):
    """A queue's messages as they arrive (asyncio): ``async for``; acknowledge with :meth:`ack`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        request: tuple[str, dict[str, str]],
        delete: Callable[[str], Awaitable[None]],
        *,
        connect_timeout: float,
        reconnect: bool,
    ) -> None:
        super().__init__(request, connect_timeout=connect_timeout, reconnect=reconnect)
        self._http = http
        self._delete = delete

    async def __aiter__(self) -> AsyncIterator[Message]:
        while not self.closed:
            try:
                async for message in self._connection():
                    yield message
            except _Again:
                pass
            except httpx.HTTPError as error:
                if not self.reconnect or self.closed:
                    raise translate(error) from error
            if not self.reconnect or self.closed:
                return
            await asyncio.sleep(self.retry_seconds)

    async def _connection(self) -> AsyncIterator[Message]:
        request = self._http.build_request(
            "GET", self._path, params=self._params, headers=self.headers(), timeout=self._timeout
        )
        response = self._response = await self._http.send(request, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                self.refused_answer(response)
            async for line in response.aiter_lines():
                event = self.parser.feed(line)
                if event is not None and (message := self.message(event)) is not None:
                    yield message
        finally:
            await response.aclose()
            self._response = None

    async def ack(self, message: Message) -> None:
        """Done with ``message``: delete it from the queue."""
        await self._delete(message.receipt_handle)

    async def close(self) -> None:
        self.closed = True
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncMessageStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
