"""A small local webhook endpoint, run by the bench itself for the fanout scenario.

Answers confirmation requests with their challenge (which confirms the subscription) and records
when each push arrived, by its EMS-Message-Id. Plain HTTP/1.1 with keep-alive, Content-Length
bodies (what EMS sends).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time


class WebhookReceiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}  # message id -> time.monotonic() of each push
        self.pushes = 0
        self.confirmations = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1") -> None:
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()  # EMS keeps its connections: end them so their handlers return
            await asyncio.sleep(0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n")  # request line
                headers: dict[bytes, bytes] = {}
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                now = time.monotonic()
                answer = b"ok"
                if headers.get(b"ems-message-type") == b"SubscriptionConfirmation":
                    answer = json.loads(body)["challenge"].encode()
                    self.confirmations += 1
                else:
                    message_id = headers.get(b"ems-message-id", b"").decode()
                    self.arrivals.setdefault(message_id, []).append(now)
                    self.pushes += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
