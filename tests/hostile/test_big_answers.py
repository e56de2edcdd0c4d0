"""Large answers are streamed with back-pressure: a peek of 1000 x 1 MiB and a receive of
100 x 1 MiB keep the server's memory bounded, and the event loop keeps answering meanwhile."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import EmsServer
from tests.hostile.limits_support import rss_kib

pytestmark = [pytest.mark.e2e, pytest.mark.timing]

MIB = 1 << 20


def fill(server: EmsServer, queue_id: str, count: int, size: int) -> None:
    """``count`` messages of ``size`` bytes, from 4 connections at once."""
    body = b"m" * size

    def send(share: int) -> set[int]:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return {
                http.post(f"/ems/queue/{queue_id}/message", content=body).status_code
                for _ in range(share)
            }

    shares = [count // 4 + (1 if i < count % 4 else 0) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert set().union(*pool.map(send, shares)) == {201}


def big_queue(server: EmsServer) -> str:
    created = httpx.post(f"{server.url}/ems/queue", json={"max_message_bytes": MIB})
    queue_id: str = created.json()["queue_id"]
    return queue_id


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmsServer]:
    # synchronous=OFF: what is measured here is the answer, not the durability of the sends
    server = EmsServer(tmp_path / "data").start(
        "--sqlite-synchronous", "OFF", "--max-response-bytes", str(2 << 30)
    )
    yield server
    server.stop()


PROBE = """
import json, sys, time, httpx
seconds = []
with httpx.Client(timeout=10) as http:
    while sys.stdin.readline().strip() == "go":
        started = time.monotonic()
        assert http.get(sys.argv[1] + "/healthz").status_code == 200
        seconds.append(time.monotonic() - started)
        print(json.dumps(seconds[-1]), flush=True)
"""


class HealthProbe:
    """GET /healthz every 20 ms, from a process of its own (so that this process's reading
    of the big answer does not delay the probe), recording how long each took."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seconds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._process = subprocess.Popen(
            [sys.executable, "-c", PROBE, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(20)
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.close()
        assert self._process.wait(20) == 0
        self._process.stdout.close()

    def _run(self) -> None:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        while not self._stop.wait(0.02):
            self._process.stdin.write("go\n")
            self._process.stdin.flush()
            self.seconds.append(float(self._process.stdout.readline()))


def test_a_peek_of_1000_one_mib_messages_streams_in_bounded_memory(server: EmsServer) -> None:
    queue_id = big_queue(server)
    fill(server, queue_id, 1000, MIB)
    rss_before, peak_before = rss_kib(server)
    received = 0
    with (
        HealthProbe(server.url) as probe,
        httpx.stream(
            "GET", f"{server.url}/ems/queue/{queue_id}/peek?max_messages=1000", timeout=120
        ) as response,
    ):
        assert response.status_code == 200
        assert "content-length" not in response.headers, "an answer this large is streamed"
        tail = b""
        for chunk in response.iter_raw(1 << 20):
            received += len(chunk)
            tail = (tail + chunk)[-200:]
    _, peak_after = rss_kib(server)
    print(
        f"peek of 1000 x 1 MiB: {received / MIB:.0f} MiB streamed, peak RSS "
        f"+{(peak_after - max(peak_before, rss_before)) / 1024:.0f} MiB, /healthz "
        f"p50 {statistics.median(probe.seconds) * 1000:.1f} ms max {max(probe.seconds) * 1000:.1f}"
    )
    assert received > 1000 * MIB
    # a full page of 1000: `next` is the last message's cursor, as for a small page
    assert re.search(rb'"next":"[0-9]+"}$', tail)
    # bounded by what does not depend on the answer's size: the SQLite readers' page caches
    # (2 x 64 MiB) and the few messages read at a time (before streaming: +1.58 GiB for 300)
    growth = (peak_after - max(peak_before, rss_before)) // 1024
    assert growth < 256, f"peak RSS grew by {growth} MiB for a 1000 MiB answer"
    assert len(probe.seconds) > 10
    # the loop keeps answering: a /healthz waits for one piece of the answer at most
    assert statistics.median(probe.seconds) < 0.1
    assert max(probe.seconds) < 0.5


def test_a_large_receive_is_streamed_and_complete(server: EmsServer) -> None:
    queue_id = big_queue(server)
    fill(server, queue_id, 100, MIB)
    _, peak_before = rss_kib(server)
    response = httpx.get(f"{server.url}/ems/queue/{queue_id}/message?max_messages=100", timeout=120)
    _, peak_after = rss_kib(server)
    assert "content-length" not in response.headers
    messages = response.json()["messages"]
    assert len(messages) == 100
    assert {len(m["body"]) for m in messages} == {MIB}
    assert (peak_after - peak_before) // 1024 < 300, "about the stored bytes, not five times"


def test_a_peek_stops_at_the_response_budget_and_the_cursor_goes_on(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start("--max-response-bytes", str(3 * MIB))
    try:
        queue_id = big_queue(server)
        fill(server, queue_id, 10, MIB // 2)
        seen: list[str] = []
        after = ""
        for _ in range(10):
            page = httpx.get(
                f"{server.url}/ems/queue/{queue_id}/peek?max_messages=1000{after}"
            ).json()
            assert len(page["messages"]) <= 6
            seen += [m["message_id"] for m in page["messages"]]
            if page["next"] is None:
                break
            after = f"&after={page['next']}"
        assert len(seen) == len(set(seen)) == 10
    finally:
        server.stop()


def test_small_answers_keep_their_content_length(server: EmsServer) -> None:
    queue_id = big_queue(server)
    httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=b"small")
    peeked = httpx.get(f"{server.url}/ems/queue/{queue_id}/peek")
    assert peeked.headers["content-length"] == str(len(peeked.content))
    assert json.loads(peeked.content)["next"] is None
    received = httpx.get(f"{server.url}/ems/queue/{queue_id}/message")
    assert received.headers["content-length"] == str(len(received.content))
