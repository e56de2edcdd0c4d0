"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for generating load.

One connection, one request at a time; Content-Length or chunked framing (EMS streams large
answers). httpx's async pool serializes badly under many concurrent requests (tens of workers
get fewer requests through than four), so load generated with it measures the client, not the
server.
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
        chunked = False
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.strip().lower() == b"chunked"
        if chunked:  # a large answer (EMS streams those)
            return status, await self._chunks()
        return status, await self._reader.readexactly(length)

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts = []
        while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)
        await self._reader.readuntil(b"\r\n")  # the end: no trailers
        return b"".join(parts)

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
