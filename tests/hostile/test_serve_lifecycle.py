"""Starting and stopping a real ``ems serve`` with misbehaving inputs: refusals in one line, a
drain period on SIGTERM, stalled uploads that do not hold the stop, HEAD everywhere GET is."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ems.config import Settings
from ems.server.app import EmsApp
from ems.serving import announce
from ems.storage.sqlite import SqliteStore
from tests.e2e.server import EmsServer, free_port
from tests.hostile.limits_support import connect, status_of, wait_until

# timing: asserts wall-clock bounds, so never beside another such test (tests/conftest.py)
pytestmark = [pytest.mark.e2e, pytest.mark.timing]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data").start()
    yield server
    server.stop()


def refusal(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Start ``ems serve`` expecting a refusal; what it printed, checked to be one line."""
    command = [sys.executable, "-m", "ems", "serve", "--port", "0", *args]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ems: ")]
    assert len(errors) == 1, result.stderr
    assert "ERROR" not in result.stderr, "the refusal is said once, not logged again"
    return errors[0]


def test_a_data_dir_in_use_is_refused_in_one_line(server: EmsServer, tmp_path: Path) -> None:
    line = refusal(tmp_path, "--data-dir", str(server.data_dir))
    assert "another EMS process is already serving" in line


def test_a_file_that_is_not_a_database_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ems.sqlite3").write_bytes(b"this is not SQLite " * 500)
    line = refusal(tmp_path, "--data-dir", "data")
    assert "is not an SQLite database, or it is damaged" in line


def test_damaged_pages_are_found_at_start_unless_the_check_is_skipped(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start()
    with httpx.Client(base_url=server.url) as http:  # one connection, not 300 handshakes
        queue_id = http.post("/ems/queue").json()["queue_id"]
        for i in range(300):
            sent = http.post(f"/ems/queue/{queue_id}/message", content=b"%d" % i * 200)
            assert sent.status_code == 201, sent.text
    server.stop()
    database = tmp_path / "data" / "ems.sqlite3"
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with database.open("r+b") as file:  # scribble over the middle of the file's b-tree pages
        for page in range(pages // 2, pages - 1):
            file.seek(page * page_size + 100)
            file.write(b"\xff" * 64)
    line = refusal(tmp_path, "--data-dir", "data")
    assert "damaged" in line
    assert "--no-quick-check" in line or "restore it from a backup" in line
    unchecked = EmsServer(tmp_path / "data")
    unchecked.start("--no-quick-check")
    unchecked.stop()


def test_a_read_only_data_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start()
    server.stop()
    # a read-only view of the directory, in a mount namespace of the server's own
    script = (
        f"mount --bind {tmp_path / 'data'} {tmp_path / 'data'} && "
        f"mount -o remount,ro,bind {tmp_path / 'data'} && exec {sys.executable} -m ems serve "
        f"--port 0 --data-dir {tmp_path / 'data'}"
    )
    result = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [row for row in result.stderr.splitlines() if row.startswith("ems: ")]
    assert "Read-only file system" in line or "read-only" in line


def test_a_short_api_key_is_refused_in_one_line(tmp_path: Path) -> None:
    line = refusal(tmp_path, env={"EMS_API_KEYS": "ci:tooshort"})
    assert "shorter than 16 characters" in line
    assert "tooshort" not in line, "a key is never shown"


def test_the_start_line_brackets_an_ipv6_address(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "ems.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "ems", "serve", "--host", "::1", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            stdout=output,
            stderr=output,
        )  # fmt: skip
        try:
            wait_until(
                lambda: f"http://[::1]:{port}" in log.read_text(), 15, "the start line is logged"
            )
            assert httpx.get(f"http://[::1]:{port}/healthz").status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    assert "only credentials" not in log.read_text(), "loopback is not a public bind"


@pytest.mark.parametrize(
    ("host", "env", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("::", {}, True),
        ("10.1.2.3", {}, True),
        ("0.0.0.0", {"api_keys": "ci:0123456789abcdef"}, False),
        ("0.0.0.0", {"allow_cidrs": "10.0.0.0/8"}, False),
        ("127.0.0.1", {}, False),
        ("localhost", {}, False),
    ],
)
def test_a_public_bind_warns_that_ids_are_the_only_credentials(
    host: str, env: dict[str, str], warned: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings().with_values({"host": host, **env})
    app = EmsApp(SqliteStore(tmp_path / "ems.sqlite3"), settings)
    with caplog.at_level(logging.INFO, logger="ems"):
        announce(settings, app, "here")
    shown = f"[{host}]" if ":" in host else host
    assert f"http://{shown}:8080 with data in here" in caplog.text
    assert ("ids are the only credentials" in caplog.text) is warned


def test_sigterm_drains_then_stops(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data", env={"EMS_DRAIN_SECONDS": "2"}).start()
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    server.signal(signal.SIGTERM)
    signalled = time.monotonic()
    time.sleep(0.2)
    ready = httpx.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (503, {"ready": False, "stopping": True})
    # new connections are still accepted and served while balancers notice
    sent = httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=b"during the drain")
    assert sent.status_code == 201
    assert server.wait(15) in (0, -signal.SIGTERM)
    assert 2 <= time.monotonic() - signalled < 8
    log = server.output()
    assert "draining for 2 s" in log
    assert "Traceback" not in log


def test_a_second_sigterm_ends_the_drain(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data", env={"EMS_DRAIN_SECONDS": "30"}).start()
    server.signal(signal.SIGTERM)
    time.sleep(0.3)
    signalled = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(15) in (0, -signal.SIGTERM)
    assert time.monotonic() - signalled < 5


def test_a_stalled_upload_does_not_hold_up_a_stop(server: EmsServer) -> None:
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    with connect(server) as upload:
        upload.sendall(
            f"POST /ems/queue/{queue_id}/message HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            "\r\nhalf".encode()
        )
        time.sleep(0.3)
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(15) in (0, -signal.SIGTERM)
        # not the 30 s graceful timeout, nor the 30 s body timeout
        assert time.monotonic() - signalled < 5
        assert status_of(upload.recv(65536)) in (408, 0)
    assert "Traceback" not in server.output()


def test_requests_cut_off_at_the_graceful_timeout_log_no_traceback(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data", env={"EMS_SHUTDOWN_TIMEOUT": "1"}).start()
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    with connect(server) as upload:
        upload.sendall(
            f"POST /ems/queue/{queue_id}/message HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            "\r\n".encode()
        )
        server.signal(signal.SIGTERM)
        # an upload that keeps moving is not "stalled", so the graceful timeout cuts it off
        for _ in range(40):
            try:
                upload.sendall(b"x")
            except OSError:
                break
            time.sleep(0.1)
        assert server.wait(15) in (0, -signal.SIGTERM)
    log = server.output()
    assert "Cancel 1 running task(s)" in log
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log


def test_head_is_answered_wherever_get_is(server: EmsServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        queue_id = http.post("/ems/queue").json()["queue_id"]
        topic_id = http.post("/ems/topic").json()["topic_id"]
        paths = [
            "/healthz",
            "/readyz",
            "/metrics",
            f"/ems/queue/{queue_id}",
            f"/ems/queue/{queue_id}/peek",
            f"/ems/topic/{topic_id}",
            f"/ems/topic/{topic_id}/subscription",
            "/ems/openapi.json",
            "/",
            "/ems/docs",
            "/ems/problems/queue-not-found",
            "/ems/queue/nosuchqueue0000000000000",
        ]
        for path in paths:
            got, head = http.get(path), http.head(path)
            assert head.status_code == got.status_code, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            if path != "/metrics":  # (the metrics count the GET itself)
                assert head.headers.get("content-length") == got.headers.get("content-length")


def test_head_on_receive_and_confirm_changes_nothing(server: EmsServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        queue_id = http.post("/ems/queue").json()["queue_id"]
        http.post(f"/ems/queue/{queue_id}/message", content=b"still here")
        head = http.head(f"/ems/queue/{queue_id}/message")
        assert head.status_code == 200
        assert head.headers["content-type"] == "application/json"
        assert http.get(f"/ems/queue/{queue_id}").json()["messages_in_flight"] == 0
        (message,) = http.get(f"/ems/queue/{queue_id}/message").json()["messages"]
        assert message["receive_count"] == 1
        assert http.head("/ems/queue/nosuchqueue0000000000000/message").status_code == 404
        assert http.head("/ems/topic/confirm/sometoken").status_code == 200
        allowed = http.put(f"/ems/queue/{queue_id}").headers["allow"]
        assert allowed == "GET, HEAD, PATCH, DELETE"
