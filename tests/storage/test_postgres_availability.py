"""The PostgreSQL store when the database hangs: host-by-host connections, bounded waits, health.

A hung server is made two ways, both real: a loopback socket that takes TCP connections and never
answers (what a frozen or cut-off host looks like to a client), and a throwaway cluster whose
processes are all stopped with SIGSTOP (thawed or killed in ``finally``, always).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

import pytest

from ems.core.errors import StorageUnavailable
from ems.core.models import QueueConfig, ReceiveRequest
from ems.storage.postgres import PostgresStore
from ems.storage.postgres.hosts import Connector, NoHostAvailable
from tests import pg
from tests.conformance.conftest import ids, message
from tests.e2e.server import free_port

# timing: asserts wall-clock bounds, so never beside another such test (tests/conftest.py)
pytestmark = pytest.mark.timing

T = TypeVar("T")
TIMEOUT = 1.0  # the store's --database-timeout in these tests


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port where connections are taken (by the kernel) and never answered."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        yield hole.getsockname()[1]


@pytest.fixture
def cluster() -> Iterator[pg.Cluster]:
    cluster = pg.Cluster().start()
    try:
        yield cluster
    finally:
        cluster.destroy()  # kills it even when frozen


@pytest.fixture
async def store(cluster: pg.Cluster) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(cluster.url, schema="ems", timeout=TIMEOUT, pool_size=4)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _server() -> str:
    """host:port of the tests' PostgreSQL server (only connected to, never disturbed)."""
    parts = urlsplit(pg.server_url())
    return f"{parts.hostname}:{parts.port or 5432}"


async def test_a_hung_host_listed_first_costs_its_own_timeout_then_is_skipped(
    hung_port: int,
) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{hung_port},{_server()}/postgres"
    connector = Connector(url + "?target_session_attrs=read-write", host_timeout=0.5)
    first, took = await _timed(connector.connect())
    # asyncpg alone would spend its whole timeout on the first host and never try the second
    assert 0.5 <= took < 3, took
    second, took = await _timed(connector.connect())
    assert took < 0.4, "a host that timed out is tried last"
    assert connector.terminate_all() == 2
    assert first.is_closed()
    assert second.is_closed()


async def test_a_host_the_store_distrusts_is_tried_last_until_it_answers_again(
    hung_port: int,
) -> None:
    url = f"postgresql://postgres@{_server()},127.0.0.1:{hung_port}/postgres"
    connector = Connector(url, host_timeout=0.5)
    conn, took = await _timed(connector.connect())
    assert took < 0.4
    # say a statement on this connection timed out: the store found the database unavailable
    connector.distrust(conn.get_server_pid())
    conn.terminate()
    conn, took = await _timed(connector.connect())
    assert took >= 0.5, "the other host came first, and cost its timeout"
    conn.terminate()
    conn, took = await _timed(connector.connect())
    assert took < 0.4, "the host answered again: first again"
    conn.terminate()


async def _timed(connecting: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    done = await connecting
    return done, time.monotonic() - started


async def test_when_no_host_answers_the_error_says_how_each_failed_and_shows_no_password(
    hung_port: int,
) -> None:
    closed = free_port()
    url = f"postgresql://postgres:hunter2@127.0.0.1:{hung_port},127.0.0.1:{closed}/postgres"
    with pytest.raises(NoHostAvailable) as failed:
        await Connector(url, host_timeout=0.3).connect()
    text = str(failed.value)
    assert f"127.0.0.1:{hung_port}: no answer within 0.3 s" in text
    assert f"127.0.0.1:{closed}: ConnectionRefusedError" in text
    assert "hunter2" not in text
    assert "postgres:" not in text


async def test_a_standby_is_passed_over_for_read_write(cluster: pg.Cluster) -> None:
    standby = cluster.standby().start()
    try:
        url = f"postgresql://postgres@127.0.0.1:{standby.port},127.0.0.1:{cluster.port}/postgres"
        conn = await Connector(url + "?target_session_attrs=read-write", 2).connect()
        assert not await conn.fetchval("SELECT pg_is_in_recovery()")
        conn.terminate()
        conn = await Connector(url + "?target_session_attrs=prefer-standby", 2).connect()
        assert await conn.fetchval("SELECT pg_is_in_recovery()")
        conn.terminate()
        only_standby = f"postgresql://postgres@127.0.0.1:{standby.port}/postgres"
        with pytest.raises(NoHostAvailable) as failed:
            await Connector(only_standby + "?target_session_attrs=read-write", 2).connect()
        assert failed.value.wrong_kind
    finally:
        standby.destroy()


async def test_a_frozen_database_answers_503_within_the_timeout_and_recovers_by_itself(
    cluster: pg.Cluster, store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    queue = os.urandom(32)
    await store.create_queue(ids(queue), QueueConfig())
    await store.send(queue, [message("before")])
    sessions = "SELECT pid FROM pg_stat_activity WHERE application_name = 'ems'"
    before_freeze = set(cluster.sql(sessions).split())
    assert before_freeze
    cluster.freeze()
    try:
        started = time.monotonic()
        # the first send's batch hangs on the frozen server; the second waits behind it
        results = await asyncio.gather(
            store.send(queue, [message("in the hung batch")]),
            store.send(queue, [message("waiting behind it")]),
            return_exceptions=True,
        )
        took = time.monotonic() - started
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        assert TIMEOUT <= took < TIMEOUT + 1.5, took
        assert store.health.outage is not None
        assert store.health.outage.kind == "timeout"
        # an outage is a line, not a line per request: more requests, no more warnings
        for _ in range(3):
            with pytest.raises(StorageUnavailable):
                await store.send(queue, [message("refused")])
    finally:
        cluster.thaw()
    deadline = time.monotonic() + 15
    while not store.health.healthy:
        assert time.monotonic() < deadline, "the store never found the database again"
        await asyncio.sleep(0.1)
    # the connections to the hung server were terminated, not kept for later: once it runs
    # again, their sessions find their clients gone and end
    deadline = time.monotonic() + 10
    while before_freeze & set(cluster.sql(sessions).split()):
        assert time.monotonic() < deadline, "a connection from before the hang is still in use"
        await asyncio.sleep(0.1)
    await store.send(queue, [message("after")])
    got = await store.receive(queue, ReceiveRequest(max_messages=10))
    # what was answered 503 was never committed, not even once the server came back
    assert sorted(m.body for m in got.messages) == [b"after", b"before"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("storage unavailable (timeout)" in w for w in warnings) == 1, warnings
    assert sum("storage available again" in w for w in warnings) == 1, warnings
    assert not any(r.exc_info for r in caplog.records), "no tracebacks for an outage"


async def test_an_operation_abandoned_before_its_batch_began_is_never_run(
    cluster: pg.Cluster, store: PostgresStore
) -> None:
    queue = os.urandom(32)
    await store.create_queue(ids(queue), QueueConfig())
    cluster.freeze()
    try:
        running = asyncio.create_task(store.send(queue, [message("running")]))
        await asyncio.sleep(0.1)  # its batch has begun, on the frozen server
        abandoned = asyncio.create_task(store.send(queue, [message("abandoned")]))
        waiting = asyncio.create_task(store.send(queue, [message("waiting")]))
        await asyncio.sleep(0.1)
        abandoned.cancel()  # its client went away while it waited for its turn
    finally:
        cluster.thaw()  # before the timeout: the running batch completes
    await running
    await waiting
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    got = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert sorted(m.body for m in got.messages) == [b"running", b"waiting"]


async def test_the_listening_connection_notices_a_frozen_server_and_comes_back(
    cluster: pg.Cluster, store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.freeze()
    try:
        # nothing to send: only the heartbeat can tell a hung server from a quiet one
        deadline = time.monotonic() + 10
        while "lost the notification connection" not in caplog.text:
            assert time.monotonic() < deadline, "the heartbeat never noticed"
            await asyncio.sleep(0.1)
    finally:
        cluster.thaw()
    deadline = time.monotonic() + 15
    while "listening for other nodes' news again" not in caplog.text:
        assert time.monotonic() < deadline, "the listener never came back"
        await asyncio.sleep(0.1)
