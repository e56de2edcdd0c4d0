"""A real HTTP server on loopback that plays a webhook endpoint, for tests.

It records every request and answers from a script: a list of responses consumed in order
(then the default), each a status, a body and an optional delay. Confirmation requests are
answered by echoing the challenge unless the script says otherwise.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    client_port: int = 0

    @property
    def kind(self) -> str | None:
        return self.headers.get("ems-message-type")

    def json(self) -> Any:
        return json.loads(self.body)


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # EMS hung up on purpose (timeouts, kill -9): not worth a traceback


class Receiver:
    def __init__(self, host: str = "127.0.0.1", *, echo_challenge: bool = True) -> None:
        self.requests: list[Received] = []  # answered, in the order they were answered
        self.in_progress: list[Received] = []  # arrived, answer not sent yet
        self.script: list[Reply] = []
        self.default = Reply()
        self.echo_challenge = echo_challenge
        self._lock = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                received = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                    self.client_address[1],
                )
                reply = receiver._reply(received)
                with receiver._lock:
                    receiver.in_progress.append(received)
                if reply.delay:
                    time.sleep(reply.delay)
                with receiver._lock:
                    receiver.in_progress.remove(received)
                    receiver.requests.append(received)
                    receiver._lock.notify_all()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _reply(self, received: Received) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        if received.kind == "SubscriptionConfirmation" and self.echo_challenge:
            return Reply(body=received.json()["challenge"].encode())
        return self.default

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def notifications(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.kind == "Notification"]

    def wait_for(
        self, count: int, *, kind: str = "Notification", timeout: float = 10
    ) -> list[Received]:
        """Block until ``count`` requests of ``kind`` arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.requests if r.kind == kind]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"got {len(found)} {kind} requests, wanted {count}")
                self._lock.wait(remaining)

    async def arrive(
        self, count: int, *, kind: str = "Notification", seconds: float = 10
    ) -> list[Received]:
        """Like wait_for, without blocking the event loop (for in-process servers)."""
        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                found = [r for r in self.requests if r.kind == kind]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"got {len(found)} {kind} requests, wanted {count}")
            await asyncio.sleep(0.005)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
