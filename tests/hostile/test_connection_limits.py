"""Connections that never finish a request, oversized headers, too many connections, readers
that stop: a real ``ems serve``, raw sockets on loopback (server/connections.py)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import EmsServer
from tests.hostile.limits_support import (
    closed_within,
    connect,
    metric,
    read_answer,
    rss_kib,
    status_of,
    wait_until,
)

# timing: asserts wall-clock bounds, so never beside another such test (tests/conftest.py)
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

TIMEOUT = 1.0  # the header and body timeouts of the shared server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path_factory.mktemp("limits") / "data")
    server.start("--header-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT))
    yield server
    server.stop()


def closed(reason: str) -> str:
    return f'ems_connections_closed_total{{reason="{reason}"}}'


def test_idle_and_slowloris_connections_are_closed_while_others_are_served(
    server: EmsServer,
) -> None:
    before = metric(server, closed("header_timeout"))
    idle = [connect(server) for _ in range(100)]
    slow = [connect(server) for _ in range(100)]
    try:
        opened = time.monotonic()
        with httpx.Client(base_url=server.url) as http:
            queue_id = http.post("/ems/queue").json()["queue_id"]
            # slowloris: a header line every 0.2 s, each connection, for longer than the timeout
            for step in range(12):
                for connection in slow:
                    line = b"POST /ems/queue HTTP/1.1\r\n" if step == 0 else b"X-Slow: 1\r\n"
                    # (once the server has closed it, sending fails: the point of the test)
                    with contextlib.suppress(OSError):
                        connection.sendall(line)
                # another client is served meanwhile, without waiting for them
                started = time.monotonic()
                assert http.post(f"/ems/queue/{queue_id}/message", content=b"x").status_code == 201
                assert time.monotonic() - started < TIMEOUT
                time.sleep(0.2)
        for connection in idle:
            done, answer = closed_within(connection, TIMEOUT + 5)
            assert done, "an idle connection is closed after the header timeout"
            assert answer == b"", "nothing was asked, so nothing is answered"
        for connection in slow:
            done, answer = closed_within(connection, TIMEOUT + 5)
            assert done, "a slowloris connection is closed after the header timeout"
            assert status_of(answer) == 408
            assert b"/ems/problems/request-timeout" in answer
        # all 200 went in about the timeout, not one after the other
        assert time.monotonic() - opened < TIMEOUT + 8
        assert metric(server, closed("header_timeout")) - before == 200
    finally:
        for connection in idle + slow:
            connection.close()


def test_a_stalled_upload_is_cut_off_and_stores_nothing(server: EmsServer) -> None:
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    before = metric(server, closed("body_timeout"))
    connection = connect(server)
    connection.sendall(
        f"POST /ems/queue/{queue_id}/message HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        "\r\n".encode()
        + b"only part of it"
    )
    done, answer = closed_within(connection, TIMEOUT + 5)
    assert done
    assert status_of(answer) == 408
    assert metric(server, closed("body_timeout")) - before == 1
    stats = httpx.get(f"{server.url}/ems/queue/{queue_id}").json()
    assert stats["stored_messages"] == 0


def test_a_slow_upload_that_keeps_moving_is_not_cut_off(server: EmsServer) -> None:
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    connection = connect(server)
    body = b"0123456789" * 5
    connection.sendall(
        f"POST /ems/queue/{queue_id}/message HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    # the whole upload takes three times the body timeout, but no pause reaches it
    for i in range(0, len(body), 5):
        connection.sendall(body[i : i + 5])
        time.sleep(TIMEOUT * 0.3)
    with connection:
        assert status_of(connection.recv(65536)) == 201


def _header_flood(port: int) -> bytes:
    """Send a request whose one header grows towards 64 MiB; the server's answer."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    chunk = b"a" * (1 << 20)
    try:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
        for _ in range(64):
            connection.sendall(chunk)
    except OSError:
        pass  # the server answered and closed: the rest is not wanted
    try:
        return read_answer(connection)
    except OSError:
        return b""
    finally:
        connection.close()


def test_oversized_headers_get_431_and_do_not_grow_memory(server: EmsServer) -> None:
    before = metric(server, closed("headers_too_large"))
    _, peak_before = rss_kib(server)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_header_flood, [server.port] * 8))
    _, peak_after = rss_kib(server)
    # (a reset can overtake the answer on a connection the client was still writing to)
    assert [a for a in answers if a and status_of(a) != 431] == []
    assert metric(server, closed("headers_too_large")) - before == 8
    assert peak_after - peak_before < 32 * 1024, "8 x 64 MiB of headers must not be buffered"
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_the_header_limit_is_exact_for_a_request_sent_at_once(server: EmsServer) -> None:
    for size, expected in ((60_000, 200), (70_000, 431)):
        with connect(server) as connection:
            connection.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * size + b"\r\n\r\n"
            )
            assert status_of(connection.recv(65536)) == expected, size
    answer = httpx.get(f"{server.url}/healthz", headers={"x-pad": "p" * 70_000})
    assert answer.status_code == 431
    assert answer.json()["type"] == "/ems/problems/headers-too-large"


def test_a_reader_that_stops_reading_is_cut_off(server: EmsServer) -> None:
    queue = httpx.post(f"{server.url}/ems/queue", json={"max_message_bytes": 1048576}).json()
    for _ in range(24):
        sent = httpx.post(
            f"{server.url}/ems/queue/{queue['queue_id']}/message", content=b"z" * 1048576
        )
        assert sent.status_code == 201
    before = metric(server, closed("response_stall"))
    with socket.socket() as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", server.port))
        connection.sendall(
            f"GET /ems/queue/{queue['queue_id']}/peek?max_messages=24 HTTP/1.1\r\nHost: x\r\n"
            "\r\n".encode()
        )
        # 24 MiB are due and this client reads none of it
        wait_until(
            lambda: metric(server, closed("response_stall")) - before == 1,
            TIMEOUT + 10,
            "the stalled reader is cut off",
        )


def test_the_connection_cap_answers_503_and_is_counted(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start(
        "--max-connections", "20", "--max-connections-per-client", "0"
    )
    try:
        refused = 'ems_connections_refused_total{cap="max_connections"}'
        before = metric(server, refused)
        held = [connect(server) for _ in range(20)]
        time.sleep(0.2)
        with connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_answer(extra)
        assert status_of(answer) == 503
        assert b"/ems/problems/too-many-connections" in answer
        assert b"retry-after: 1" in answer
        assert b"connection: close" in answer
        for connection in held:
            connection.close()
        wait_until(lambda: httpx.get(f"{server.url}/healthz").status_code == 200, 5, "served again")
        assert metric(server, refused) - before == 1
    finally:
        server.stop()


def test_one_client_address_cannot_take_every_connection(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start("--max-connections-per-client", "5")
    try:
        held = [connect(server) for _ in range(5)]
        time.sleep(0.2)
        with connect(server) as sixth:
            sixth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(read_answer(sixth)) == 503
        # another address is served
        with connect(server, source="127.0.0.2") as other:
            other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(other.recv(65536)) == 200
        for connection in held:
            connection.close()
        refused = 'ems_connections_refused_total{cap="max_connections_per_client"}'
        wait_until(lambda: metric(server, refused) == 1, 5, "the refusal is counted")
    finally:
        server.stop()


def test_the_open_file_limit_is_raised_to_the_hard_limit(server: EmsServer) -> None:
    assert server.process is not None
    limits = Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()
    (line,) = [row for row in limits if row.startswith("Max open files")]
    soft, hard = line.split()[3:5]
    assert soft == hard
