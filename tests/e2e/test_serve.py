"""End to end: real ``ems serve`` processes, real sockets, real signals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ems.bench.http import RawConnection
from tests.e2e.conftest import database
from tests.e2e.server import EmsServer, free_port


def curl(*args: str) -> str:
    result = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args], capture_output=True, check=True
    )
    return result.stdout.decode()


def test_the_seed_curl_commands_work_verbatim(any_server: EmsServer) -> None:
    assert shutil.which("curl"), "curl is part of the test environment (scripts/test installs it)"
    base = any_server.url
    queue_id = json.loads(curl("-X", "POST", f"{base}/ems/queue"))["queue_id"]
    sent = json.loads(
        curl("-X", "POST", "-d", "Hello World", f"{base}/ems/queue/{queue_id}/message")
    )
    received = json.loads(curl("-X", "GET", f"{base}/ems/queue/{queue_id}/message"))
    (message,) = received["messages"]
    assert message["body"] == "Hello World"
    assert message["message_id"] == sent["message_id"]
    curl("-X", "DELETE", f"{base}/ems/queue/{queue_id}/message/{message['receipt_handle']}")
    assert json.loads(curl(f"{base}//ems/queue/{queue_id}"))["messages_in_flight"] == 0


def test_settings_from_the_environment_and_loopback_by_default(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "from-env"
    server = EmsServer(
        data_dir, port=port, env={"EMS_PORT": str(port), "EMS_DATA_DIR": str(data_dir)}
    )
    server.start(use_flags=False)
    try:
        assert (data_dir / "ems.sqlite3").exists()
        assert f"http://127.0.0.1:{port}" in server.output()
        for address in _non_loopback_addresses():
            assert not _accepts_connections(address, port), f"reachable on {address}"
    finally:
        server.stop()


def _accepts_connections(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
    except OSError:
        return False
    return True


def _non_loopback_addresses() -> list[str]:
    try:
        output = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return []
    return [a for a in output.stdout.split() if ":" not in a and not a.startswith("127.")]


def test_sigterm_answers_in_flight_requests_then_closes_the_store(server: EmsServer) -> None:
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]

    async def long_poll_then_terminate() -> tuple[httpx.Response, float]:
        async with httpx.AsyncClient(timeout=30) as client:
            poll = asyncio.create_task(
                client.get(f"{server.url}/ems/queue/{queue_id}/message?wait_seconds=20")
            )
            await asyncio.sleep(0.5)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            response = await poll
            return response, time.monotonic() - started

    response, elapsed = asyncio.run(long_poll_then_terminate())
    assert response.status_code == 200
    assert response.json() == {"messages": []}
    assert elapsed < 3, "a long poll must not hold up shutdown"
    # after a clean shutdown uvicorn re-raises the signal, so the exit status says "SIGTERM"
    # (the Unix convention; systemd counts it as a clean stop)
    assert server.wait(15) in (0, -signal.SIGTERM)
    assert "group commit:" in server.output(), "the store was closed cleanly"
    wal = server.data_dir / "ems.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was checkpointed on close"


def test_a_second_server_on_the_same_data_dir_refuses_to_start(server: EmsServer) -> None:
    second = EmsServer(server.data_dir)
    with pytest.raises(AssertionError, match="already serving"):
        second.start()
    assert second.process is not None
    assert second.process.returncode != 0
    # the first server is unharmed
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.timing  # needs a real load (1000 sends in 2 s): not beside another such test
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_acknowledged_message_is_lost_to_kill_9(
    tmp_path: Path, backend: str, workers: int
) -> None:
    """With workers: kill -9 one worker mid-load (its replacement starts while the other goes
    on), then kill -9 every process."""
    args = ("--workers", str(workers))
    server = EmsServer(tmp_path / "data", database=database(backend, tmp_path)).start(*args)
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    path = f"/ems/queue/{queue_id}/message"
    acknowledged: set[str] = set()
    attempted: set[str] = set()

    async def sender(worker: int) -> None:
        connection = RawConnection("127.0.0.1", server.port)
        n = 0
        try:
            while True:
                body = f"{worker}-{n}"
                n += 1
                attempted.add(body)
                status, _ = await connection.request("POST", path, body.encode())
                if status == 201:
                    acknowledged.add(body)
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the server died under this request: it was not acknowledged
        finally:
            await connection.close()

    async def load_then_kill() -> None:
        senders = [asyncio.create_task(sender(w)) for w in range(32)]
        await asyncio.sleep(2)
        # mid-flight: batches are being executed and committed right now
        if workers > 1:
            os.kill(server.worker_pids()[0], signal.SIGKILL)
            await asyncio.sleep(1.5)
        survivors = server.worker_pids()
        await asyncio.to_thread(server.kill9)
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.gather(*senders)

    asyncio.run(load_then_kill())
    assert len(acknowledged) > 1000, "the load must be real for the test to mean something"

    server.start(*args)
    try:
        found: list[str] = []
        while True:
            response = httpx.get(
                f"{server.url}{path}?max_messages=100&visibility_timeout=3600", timeout=10
            )
            batch = response.json()["messages"]
            if not batch:
                break
            found.extend(m["body"] for m in batch)
    finally:
        server.stop()
    assert len(found) == len(set(found)), "no message is stored twice"
    lost = acknowledged - set(found)
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged messages were lost"
    assert set(found) <= attempted


def test_uncommitted_writes_do_not_survive_as_garbage(tmp_path: Path) -> None:
    """After kill -9 the database opens cleanly and serves new work."""
    server = EmsServer(tmp_path / "data").start()
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    for i in range(20):
        httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=str(i).encode())
    server.kill9()
    assert (tmp_path / "data" / "ems.sqlite3-wal").exists()
    server.start()
    try:
        stats = httpx.get(f"{server.url}/ems/queue/{queue_id}").json()
        assert stats["messages_visible"] == 20
        assert (
            httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=b"new").status_code
            == 201
        )
    finally:
        server.stop()
    os.sync()
