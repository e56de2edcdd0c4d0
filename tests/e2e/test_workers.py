"""End to end: ``ems serve --workers 2``, real processes sharing one port and one database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ems.bench.http import RawConnection
from tests.e2e.conftest import database
from tests.e2e.server import EmsServer


@pytest.fixture(params=["sqlite", "postgres"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data", database=database(request.param, tmp_path))
    start(server)
    yield server
    server.stop()


@pytest.fixture
def sqlite_workers(tmp_path: Path) -> Iterator[EmsServer]:
    server = EmsServer(tmp_path / "data")
    start(server)
    yield server
    server.stop()


def start(server: EmsServer) -> None:
    """Start with two workers, and wait until both serve (the port answers once one does)."""
    server.start("--workers", "2")
    wait_until(lambda: server.output().count("(worker ") >= 2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a dead child not yet reaped by anyone is a zombie: gone for our purpose
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def wait_until(condition: object, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.timing  # a bound on how soon the long polls return
def test_long_polls_on_every_worker_wake_when_any_worker_commits(workers: EmsServer) -> None:
    """The port picks the worker, so: many long polls on many connections (both workers hold
    some), then sends on fresh connections (either worker commits them): all return at once."""
    queue_id = httpx.post(f"{workers.url}/ems/queue").json()["queue_id"]
    path = f"/ems/queue/{queue_id}/message"
    polls = 16

    async def poll() -> tuple[int, float]:
        connection = RawConnection("127.0.0.1", workers.port)
        try:
            status, _ = await connection.request("GET", f"{path}?wait_seconds=20", b"")
            return status, time.monotonic()
        finally:
            await connection.close()

    async def scenario() -> list[float]:
        waiting = [asyncio.create_task(poll()) for _ in range(polls)]
        await asyncio.sleep(1.5)  # every poll is parked
        sent = time.monotonic()
        for i in range(polls):
            connection = RawConnection("127.0.0.1", workers.port)
            try:
                status, _ = await connection.request("POST", path, f"m{i}".encode())
                assert status == 201
            finally:
                await connection.close()
        results = await asyncio.gather(*waiting)
        assert all(status == 200 for status, _ in results)
        return [done - sent for _, done in results]

    delays = asyncio.run(scenario())
    assert max(delays) < 5, f"a long poll slept through another worker's send: {max(delays):.1f}s"


def test_metrics_label_the_series_of_each_worker(workers: EmsServer) -> None:
    seen: set[str] = set()
    for _ in range(60):
        # a fresh connection each time: the port hands it to either worker
        text = httpx.get(f"{workers.url}/metrics", headers={"connection": "close"}).text
        seen |= set(re.findall(r'ems_long_polls_waiting\{worker="(\d+)"\}', text))
        if seen == {"0", "1"}:
            return
    raise AssertionError(f"only workers {seen} answered 60 scrapes")


def test_sigterm_stops_every_worker_with_the_single_server_exit_status(
    sqlite_workers: EmsServer,
) -> None:
    server = sqlite_workers
    pids = server.worker_pids()
    assert len(pids) == 2
    server.signal(signal.SIGTERM)
    assert server.wait(30) in (0, -signal.SIGTERM)
    assert not [pid for pid in pids if alive(pid)]
    output = server.output()
    assert "all 2 workers stopped" in output
    assert output.count("group commit:") == 2, "each worker closed its store"
    wal = server.data_dir / "ems.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "the last worker checkpointed the WAL"


def test_a_killed_worker_is_replaced_and_nothing_is_lost(sqlite_workers: EmsServer) -> None:
    server = sqlite_workers
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    for i in range(20):
        httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=f"{i}".encode())
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(server.worker_pids()) == 2 and victim not in server.worker_pids())
    assert "was killed by signal 9; starting another" in server.output()
    stats = httpx.get(f"{server.url}/ems/queue/{queue_id}").json()
    assert stats["messages_visible"] == 20
    second = EmsServer(server.data_dir)
    with pytest.raises(AssertionError, match="already serving"):
        second.start()


def test_a_parent_killed_outright_leaves_no_worker_behind(sqlite_workers: EmsServer) -> None:
    server = sqlite_workers
    pids = server.worker_pids()
    server.kill9()
    wait_until(lambda: not [pid for pid in pids if alive(pid)])
    # the data directory is free again: a new server starts on it
    start(server)


@pytest.mark.timing  # a bound on how soon the streams are sent the messages
def test_streams_on_every_worker_are_sent_what_any_worker_commits(
    sqlite_workers: EmsServer,
) -> None:
    server = sqlite_workers
    queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    streams = 8
    arrived: list[str] = []
    all_in = asyncio.Event()  # made again inside the test's event loop

    async def stream(opened: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /ems/queue/{queue_id}/stream HTTP/1.1\r\nHost: ems\r\n\r\n".encode())
        await writer.drain()
        try:
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            while line := await reader.readline():
                if line.startswith(b"retry:"):
                    opened.set()
                elif line.startswith(b"id: "):
                    arrived.append(line[4:].strip().decode())
                    if len(arrived) == streams:
                        all_in.set()
        finally:
            writer.close()

    async def scenario() -> float:
        nonlocal all_in
        all_in = asyncio.Event()
        opened = [asyncio.Event() for _ in range(streams)]
        tasks = [asyncio.create_task(stream(event)) for event in opened]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 10)
        sent = time.monotonic()
        async with httpx.AsyncClient(headers={"connection": "close"}) as client:
            for i in range(streams):
                answer = await client.post(
                    f"{server.url}/ems/queue/{queue_id}/message", content=f"{i}"
                )
                assert answer.status_code == 201
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 10)
        elapsed = time.monotonic() - sent
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return elapsed

    elapsed = asyncio.run(scenario())
    assert len(arrived) == streams, f"{len(arrived)} of {streams} messages streamed"
    assert elapsed < 5, f"the streams took {elapsed:.1f}s"


def test_a_worker_that_cannot_start_stops_them_all_with_its_status(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    command = [sys.executable, "-m", "ems", "serve", "--workers", "2", "--port", "0"]
    command += [
        "--data-dir",
        str(tmp_path / "data"),
        "--tls-cert",
        str(junk),
        "--tls-key",
        str(junk),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "could not start (see above); stopping the others" in done.stderr


def test_workers_on_a_port_in_use_are_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "ems", "serve", "--workers", "2", "--port", str(port)]
        command += ["--data-dir", str(tmp_path / "data")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
