"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for generating load.

One connection, one request at a time, Content-Length framing only (what EMS answers with).
httpx's async pool serializes badly under many concurrent requests (tens of workers get fewer
requests through than four), so load generated with it measures the client, not the server.
"""

from __future__ import annotations

import asyncio
import contextlib


class RawConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request; ``headers`` are extra raw header lines, each ending in CRLF."""
        await self.connect()
        assert self._reader is not None
        assert self._writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        self._writer.write(head.encode() + headers + b"\r\n" + body)
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def connect(self) -> None:
        """Open the connection now (``request`` opens it when needed)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
            self._writer = None
