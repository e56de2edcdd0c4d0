"""Reading a live stream in tests: the raw lines (heartbeats included) and the events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ems.client.sse import Event, EventParser


class EventReader:
    """The events of one streamed answer, each awaited with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.parser = EventParser()
        self.comments: list[str] = []
        # lines are read by a task of their own: a deadline on a wait must not cancel (and so
        # close) the response's line iterator
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for line in self.response.aiter_lines():
                await self._lines.put(line)
        except httpx.HTTPError:
            pass
        finally:
            await self._lines.put(None)

    async def next(self, within: float = 5.0) -> Event:
        """The next event; TimeoutError if none arrives in time, EOFError when the stream ends."""
        async with asyncio.timeout(within):
            while (line := await self._lines.get()) is not None:
                if line.startswith(":"):
                    self.comments.append(line)
                event = self.parser.feed(line)
                if event is not None:
                    return event
        self._lines.put_nowait(None)  # ended: so it stays
        raise EOFError("the stream ended")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def message(self, within: float = 5.0) -> dict[str, Any]:
        event = await self.next(within)
        assert event.event == "message", event
        document: dict[str, Any] = json.loads(event.data)
        assert event.id == document["message_id"]
        return document

    async def nothing_for(self, seconds: float) -> None:
        """No event arrives within ``seconds`` (heartbeats may)."""
        with contextlib.suppress(TimeoutError):
            event = await self.next(seconds)
            raise AssertionError(f"unexpected event {event}")


@contextlib.asynccontextmanager
async def streaming(
    client: httpx.AsyncClient, url: str, **params: str | int
) -> AsyncIterator[EventReader]:
    """An open stream (its answer's status checked as 200)."""
    async with client.stream("GET", url, params=params or None) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        reader = EventReader(response)
        try:
            yield reader
        finally:
            await reader.close()
