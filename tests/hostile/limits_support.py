"""What the hostile-client tests share: raw sockets, a server's memory, timing under load.

Every helper works on loopback only, and every loop in it is bounded by a count or a deadline.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.e2e.server import EmsServer


def rss_kib(server: EmsServer) -> tuple[int, int]:
    """The server process's resident memory now and at its peak (VmRSS, VmHWM), in KiB."""
    assert server.process is not None
    fields = {}
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def connect(server: EmsServer, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    connection = socket.create_connection(
        ("127.0.0.1", server.port), timeout=timeout, source_address=(source, 0)
    )
    connection.settimeout(timeout)
    return connection


def read_answer(connection: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes the connection (at most ``limit`` bytes)."""
    received = b""
    while len(received) < limit:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def closed_within(connection: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``connection`` within ``seconds``, and what it said first.
    The socket is closed on this side either way."""
    connection.settimeout(seconds)
    try:
        return True, read_answer(connection)
    except TimeoutError:
        return False, b""
    finally:
        connection.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def metric(server: EmsServer, name: str) -> float:
    """A sample of /metrics by its full name with labels, e.g. ``a_total{reason="x"}``."""
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")


def timed_get(url: str, timeout: float = 10) -> tuple[int, float]:
    """(status, seconds) of one GET on a fresh connection."""
    started = time.monotonic()
    response = httpx.get(url, timeout=timeout)
    return response.status_code, time.monotonic() - started


def wait_until(condition: object, seconds: float, what: str) -> None:
    """Poll ``condition()`` every 50 ms until it is true; fail after ``seconds``."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)
