"""A webhook endpoint that answers with endless headers, an endless body or a trickle costs EMS
a bounded read and a timeout, and a healthy endpoint of the same topic is pushed to as fast as
without it (delivery/client.py, delivery/dispatcher.py)."""

from __future__ import annotations

import socket
import socketserver
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import EmsServer
from tests.hostile.limits_support import rss_kib, wait_until
from tests.webhooks import Receiver

# timing: asserts wall-clock bounds, so never beside another such test (tests/conftest.py)
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

# each hostile answer stops after this long even if EMS keeps reading (bounded loops)
HOSTILE_SECONDS = 20.0


class _HostileHandler(socketserver.BaseRequestHandler):
    request: socket.socket

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 1 << 20:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            head += chunk
        mode = head.split(b" ", 2)[1].decode()
        self.server.hits[mode] = self.server.hits.get(mode, 0) + 1  # type: ignore[attr-defined]
        deadline = time.monotonic() + HOSTILE_SECONDS
        try:
            if mode == "/endless-headers":
                # one header whose value never ends (httptools used to copy it whole on every
                # read: quadratic time on the event loop, and all of it in memory)
                self.request.sendall(b"HTTP/1.1 200 OK\r\nX-Filler: ")
                while time.monotonic() < deadline:
                    self.request.sendall(b"f" * 65536)
            elif mode == "/endless-body":
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                while time.monotonic() < deadline:
                    self.request.sendall(b"b" * 65536)
            else:  # a trickle: one byte of the status line at a time
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                    if time.monotonic() > deadline:
                        break
                    self.request.sendall(bytes([byte]))
                    time.sleep(0.2)
        except OSError:
            return  # EMS stopped reading and hung up: what it should do


class HostileEndpoint(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.hits: dict[str, int] = {}
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data").start(
        "--webhook-allow-private", "--webhook-skip-confirmation"
    )
    yield server
    server.stop()


def healthy_latencies(
    server: EmsServer, topic_id: str, receiver: Receiver, count: int
) -> list[float]:
    """Publish ``count`` messages, one every 50 ms; seconds from each publish to its push."""
    published: dict[str, float] = {}
    with httpx.Client(base_url=server.url) as http:
        for i in range(count):
            published[str(i)] = time.monotonic()
            sent = http.post(f"/ems/topic/{topic_id}/message", content=str(i).encode())
            assert sent.status_code == 201
            time.sleep(0.05)
    pushes = {r.body.decode(): r.at for r in receiver.wait_for(count, timeout=30)}
    return [pushes[key] - published[key] for key in published]


def test_a_hostile_endpoint_leaves_a_healthy_one_unaffected(server: EmsServer) -> None:
    healthy = Receiver()
    hostile = HostileEndpoint()
    try:
        topic_id = httpx.post(f"{server.url}/ems/topic").json()["topic_id"]
        subscribe = f"{server.url}/ems/topic/{topic_id}/subscription"
        assert httpx.post(subscribe, params={"url": healthy.url + "/ok"}).status_code == 201
        options = {"timeout_seconds": 3, "max_attempts": 2, "max_concurrency": 10}
        hostile_ids = {}
        for mode in ("endless-headers", "endless-body", "trickle"):
            created = httpx.post(subscribe, params={"url": f"{hostile.url}/{mode}"}, json=options)
            assert created.status_code == 201
            hostile_ids[mode] = created.json()["subscription_id"]
        rss_before, peak_before = rss_kib(server)
        started = time.monotonic()
        latencies = healthy_latencies(server, topic_id, healthy, 20)
        _, peak_after = rss_kib(server)
        print(
            f"healthy push p50 {statistics.median(latencies) * 1000:.1f} ms, max "
            f"{max(latencies) * 1000:.1f} ms beside 3 hostile endpoints; peak RSS "
            f"+{(peak_after - max(rss_before, peak_before)) / 1024:.0f} MiB"
        )
        assert statistics.median(latencies) < 0.15, "the healthy lane is not held up"
        assert max(latencies) < 3, "not even by a hostile endpoint's whole timeout"
        assert (peak_after - max(rss_before, peak_before)) < 64 * 1024, "bounded reads"
        assert set(hostile.hits) == {"/endless-headers", "/endless-body", "/trickle"}

        def outcomes() -> dict[str, dict[str, object]]:
            return {
                mode: httpx.get(f"{subscribe}/{subscription_id}").json()["deliveries"]
                for mode, subscription_id in hostile_ids.items()
            }

        wait_until(
            lambda: all(d["last_attempt_at"] for d in outcomes().values()),
            15,
            "every hostile endpoint was attempted to the end",
        )
        seen = outcomes()
        assert "header section is over" in str(seen["endless-headers"]["last_error"])
        assert "no answer within 3 s" in str(seen["trickle"]["last_error"])
        # an endless body is read up to the limit; its status said 200, so it was delivered
        assert seen["endless-body"]["last_status"] == 200
        assert time.monotonic() - started < 60
    finally:
        hostile.shutdown()
        hostile.server_close()
        healthy.close()
