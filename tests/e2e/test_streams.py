"""Live streams (Server-Sent Events) against real ``ems serve`` processes, on both backends."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import database
from tests.e2e.server import EmsServer
from tests.e2e.sse import streaming

pytestmark = pytest.mark.e2e

QUICK = {"EMS_STREAM_HEARTBEAT_SECONDS": "0.3"}


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmsServer]:
    node = EmsServer(tmp_path / "data", database=database(request.param, tmp_path), env=QUICK)
    node.start("--max-streams-per-client", "3", "--max-streams-per-queue", "2")
    yield node
    node.stop()


async def new_queue(client: httpx.AsyncClient, **attributes: int) -> dict[str, str]:
    created = await client.post("/ems/queue", json=attributes or None)
    assert created.status_code == 201
    return dict(created.json())


async def send(client: httpx.AsyncClient, queue_id: str, body: str, **params: str) -> str:
    sent = await client.post(f"/ems/queue/{queue_id}/message", content=body, params=params)
    assert sent.status_code == 201, sent.text
    return str(sent.json()["message_id"])


def connect(server: EmsServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=10)


async def test_a_stream_carries_waiting_messages_then_each_new_one(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        first = await send(client, queue["send_id"], "waiting")
        url = f"/ems/queue/{queue['receive_id']}/stream"
        async with streaming(client, url) as events:
            headers = events.response.headers
            assert headers["content-type"] == "text/event-stream; charset=utf-8"
            assert headers["x-accel-buffering"] == "no"
            assert headers["cache-control"] == "no-store"
            message = await events.message()
            assert events.parser.retry_ms == 3000
            assert (message["message_id"], message["body"]) == (first, "waiting")
            assert message["receive_count"] == 1
            second = await send(client, queue["send_id"], "new")
            assert (await events.message())["message_id"] == second
            # a quiet stream sends heartbeats, which are comments, not events
            await events.nothing_for(0.8)
            assert events.comments
            # the receipt handle is a receive's: it deletes the message
            deleted = await client.delete(
                f"/ems/queue/{queue['receive_id']}/message/{message['receipt_handle']}"
            )
            assert deleted.status_code == 204


async def test_unacknowledged_messages_come_back_after_a_disconnect(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        ids = [await send(client, queue["queue_id"], f"m{i}") for i in range(3)]
        url = f"/ems/queue/{queue['queue_id']}/stream"
        async with streaming(client, url, visibility_timeout=1) as events:
            streamed = [await events.message() for _ in ids]
            acked = streamed[0]
            await client.delete(f"/ems/queue/{queue['queue_id']}/message/{acked['receipt_handle']}")
        # disconnected with two unacknowledged: they are in flight, then back
        info = (await client.get(f"/ems/queue/{queue['queue_id']}")).json()
        assert info["messages_in_flight"] == 2
        back: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(back) < 2 and time.monotonic() < deadline:
            got = await client.get(
                f"/ems/queue/{queue['queue_id']}/message",
                params={"wait_seconds": 3, "max_messages": 10},
            )
            back += got.json()["messages"]
        assert sorted(m["message_id"] for m in back) == sorted(ids[1:])
        assert all(m["receive_count"] == 2 for m in back)


async def test_a_correlation_id_streams_only_its_messages(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        queue_id = queue["queue_id"]
        url = f"/ems/queue/{queue_id}/stream"
        async with streaming(client, url, correlation_id="job-7") as events:
            await send(client, queue_id, "someone else's", correlation_id="job-8")
            await send(client, queue_id, "uncorrelated")
            mine = await send(client, queue_id, "mine", correlation_id="job-7")
            message = await events.message()
            assert (message["message_id"], message["correlation_id"]) == (mine, "job-7")
            await events.nothing_for(0.5)
        # the others were never claimed by the stream
        info = (await client.get(f"/ems/queue/{queue_id}")).json()
        assert (info["messages_visible"], info["messages_in_flight"]) == (2, 1)


async def test_delete_true_deletes_each_message_once_written(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        queue_id = queue["queue_id"]
        url = f"/ems/queue/{queue_id}/stream"
        async with streaming(client, url, delete="true", visibility_timeout=1) as events:
            sent = [await send(client, queue_id, f"note {i}") for i in range(15)]
            streamed = [(await events.message())["message_id"] for _ in sent]
        assert streamed == sent
        await asyncio.sleep(1.5)  # past the visibility timeout: nothing comes back
        info = (await client.get(f"/ems/queue/{queue_id}")).json()
        assert info["stored_messages"] == 0


async def test_max_in_flight_holds_messages_back_until_one_is_acknowledged(
    server: EmsServer,
) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        queue_id = queue["queue_id"]
        for i in range(3):
            await send(client, queue_id, f"m{i}")
        url = f"/ems/queue/{queue_id}/stream"
        async with streaming(client, url, max_in_flight=2, visibility_timeout=60) as events:
            first, second = await events.message(), await events.message()
            await events.nothing_for(0.7)
            started = time.monotonic()
            await client.delete(f"/ems/queue/{queue_id}/message/{first['receipt_handle']}")
            third = await events.message(within=5)
            assert third["body"] == "m2"
            assert second["body"] == "m1"
            # on one node the acknowledgement wakes the stream at once; across PostgreSQL
            # nodes within the poll interval
            assert time.monotonic() - started < 3


async def test_bad_requests_are_refused_before_the_stream_starts(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        for params, status in [
            ({"max_in_flight": "0"}, 400),
            ({"max_in_flight": "101"}, 400),
            ({"delete": "yes"}, 400),
            ({"visibility_timeout": "-1"}, 400),
            ({"visibility_timeout": "0"}, 400),
            ({"wait_seconds": "5"}, 400),
        ]:
            answer = await client.get(f"/ems/queue/{queue['queue_id']}/stream", params=params)
            assert answer.status_code == status, (params, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        # a queue whose default visibility is 0 would stream one message endlessly
        instant = await new_queue(client, visibility_timeout=0)
        refused = await client.get(f"/ems/queue/{instant['queue_id']}/stream")
        assert refused.status_code == 400
        assert "visibility_timeout" in refused.json()["detail"]
        sender = await client.get(f"/ems/queue/{queue['send_id']}/stream")
        assert sender.status_code == 403
        unknown = await client.get("/ems/queue/q_0000000000000000000000/stream")
        assert unknown.status_code == 404
        # HEAD checks and claims nothing
        await send(client, queue["queue_id"], "stay")
        head = await client.head(f"/ems/queue/{queue['queue_id']}/stream")
        assert head.status_code == 200
        info = (await client.get(f"/ems/queue/{queue['queue_id']}")).json()
        assert info["messages_visible"] == 1


async def test_streams_are_bounded_per_queue_and_per_client(server: EmsServer) -> None:
    async with connect(server) as client:
        one, two = await new_queue(client), await new_queue(client)
        url_one, url_two = (f"/ems/queue/{q['queue_id']}/stream" for q in (one, two))
        async with streaming(client, url_one), streaming(client, url_one):
            refused = await client.get(url_one)
            assert refused.status_code == 429
            assert refused.json()["type"] == "/ems/problems/too-many-streams"
            assert "--max-streams-per-queue" in refused.json()["detail"]
            async with streaming(client, url_two):
                again = await client.get(url_two)
                assert again.status_code == 429
                assert "--max-streams-per-client" in again.json()["detail"]
                metrics = (await client.get("/metrics")).text
                assert 'ems_streams_open{kind="queue"} 3' in metrics
                assert 'ems_streams_refused_total{cap="per_queue"} 1' in metrics
                assert 'ems_streams_refused_total{cap="per_client"} 1' in metrics
        # closed streams give their places back
        for _ in range(50):
            metrics = (await client.get("/metrics")).text
            if 'ems_streams_open{kind="queue"} 0' in metrics:
                break
            await asyncio.sleep(0.1)
        assert 'ems_streams_open{kind="queue"} 0' in metrics


async def test_a_topic_stream_shows_live_publishes_only(server: EmsServer) -> None:
    async with connect(server) as client:
        topic_id = (await client.post("/ems/topic")).json()["topic_id"]
        before = await client.post(f"/ems/topic/{topic_id}/message", content="before")
        assert before.status_code == 201
        async with streaming(client, f"/ems/topic/{topic_id}/stream") as events:
            published = await client.post(
                f"/ems/topic/{topic_id}/message",
                content="live",
                params={"correlation_id": "c1"},
                headers={"EMS-Attribute-Kind": "news", "content-type": "text/plain"},
            )
            message = await events.message()
            assert message == {
                "message_id": published.json()["message_id"],
                "body": "live",
                "body_encoding": "utf-8",
                "content_type": "text/plain",
                "correlation_id": "c1",
                "attributes": {"kind": "news"},
            }
            await events.nothing_for(0.5)  # "before" is not replayed: nothing is stored
        missing = await client.get("/ems/topic/t_0000000000000000000000/stream")
        assert missing.status_code == 404


def test_a_stopping_server_ends_its_streams_cleanly(tmp_path: Path) -> None:
    node = EmsServer(tmp_path / "data", env=QUICK).start()

    async def scenario() -> float:
        async with connect(node) as client:
            queue = await new_queue(client)
            async with streaming(client, f"/ems/queue/{queue['queue_id']}/stream") as events:
                await events.nothing_for(0.3)
                node.signal(signal.SIGTERM)
                started = time.monotonic()
                end = await events.next(within=5)
                assert end.event == "end"
                with pytest.raises(EOFError):
                    await events.next(within=5)
                return time.monotonic() - started

    try:
        assert asyncio.run(scenario()) < 2
        assert node.wait(10) in (0, -signal.SIGTERM)
    finally:
        node.stop()


def test_a_stream_on_one_postgresql_node_is_woken_by_a_send_on_the_other(
    tmp_path: Path,
) -> None:
    url_and_schema = database("postgres", tmp_path)
    # polls re-check the database only every 30 s: an event sooner is the notification's
    env = {**QUICK, "EMS_DATABASE_POLL_INTERVAL": "30"}
    a = EmsServer(tmp_path / "a", database=url_and_schema, env=env).start()
    b = EmsServer(tmp_path / "b", database=url_and_schema, env=env).start()

    async def scenario() -> list[float]:
        async with connect(a) as on_a, connect(b) as on_b:
            queue = await new_queue(on_a)
            latencies = []
            async with streaming(on_b, f"/ems/queue/{queue['queue_id']}/stream") as events:
                await events.nothing_for(0.3)
                for i in range(10):
                    sent_at = time.monotonic()
                    sent = await send(on_a, queue["queue_id"], f"across {i}")
                    message = await events.message(within=5)
                    latencies.append(time.monotonic() - sent_at)
                    assert message["message_id"] == sent
                    await on_b.delete(
                        f"/ems/queue/{queue['queue_id']}/message/{message['receipt_handle']}"
                    )
            return latencies

    try:
        latencies = asyncio.run(scenario())
    finally:
        a.stop()
        b.stop()
    assert max(latencies) < 2, latencies


class Arrivals:
    """Message ids streamed to any of many streams; ``all_in`` is set once ``expected`` came."""

    def __init__(self, expected: int) -> None:
        self.ids: list[str] = []
        self.expected = expected
        self.all_in = asyncio.Event()

    def add(self, message_id: str) -> None:
        self.ids.append(message_id)
        if len(self.ids) >= self.expected:
            self.all_in.set()


async def _raw_stream(port: int, path: str, arrivals: Arrivals, ready: asyncio.Event) -> None:
    """One stream on a bare socket (lighter than an HTTP client for a thousand of them): the
    ids of the messages it is sent go to ``arrivals``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: ems\r\n\r\n".encode())
    await writer.drain()
    try:
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"retry:"):
                ready.set()
            elif line.startswith(b"id: "):
                arrivals.add(line[4:].strip().decode())
    finally:
        writer.close()


def test_a_thousand_concurrent_streams_on_one_node(tmp_path: Path) -> None:
    node = EmsServer(tmp_path / "data", env=QUICK).start(
        "--max-streams-per-client", "2000", "--max-streams-per-queue", "200"
    )

    async def scenario() -> tuple[list[str], list[str], str]:
        async with connect(node) as client:
            queues = [(await new_queue(client))["queue_id"] for _ in range(10)]
            received = Arrivals(1000)
            readies = [asyncio.Event() for _ in range(1000)]
            streams = [
                asyncio.create_task(
                    _raw_stream(
                        node.port, f"/ems/queue/{queues[i % 10]}/stream", received, readies[i]
                    )
                )
                for i in range(1000)
            ]
            async with asyncio.timeout(60):
                for ready in readies:
                    await ready.wait()
            metrics = (await client.get("/metrics")).text
            sent: list[str] = []
            for queue_id in queues:
                batch = await client.post(
                    f"/ems/queue/{queue_id}/messages",
                    json={"messages": [{"body": f"m{i}"} for i in range(100)]},
                )
                sent += batch.json()["message_ids"]
            async with asyncio.timeout(60):
                await received.all_in.wait()
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
            return sent, received.ids, metrics

    try:
        sent, received, metrics = asyncio.run(scenario())
    finally:
        node.stop()
    assert 'ems_streams_open{kind="queue"} 1000' in metrics
    # every message reached exactly one of the thousand streams
    assert sorted(received) == sorted(sent)


async def test_a_stream_takes_only_its_own_kind_of_id(server: EmsServer) -> None:
    async with connect(server) as client:
        queue = await new_queue(client)
        topic_id = (await client.post("/ems/topic")).json()["topic_id"]
        for queue_side in ("queue_id", "send_id", "receive_id"):
            refused = await client.get(f"/ems/topic/{queue[queue_side]}/stream")
            assert refused.status_code == 404, (queue_side, refused.text)
            assert queue[queue_side] not in refused.text
        refused = await client.get(f"/ems/queue/{topic_id}/stream")
        assert refused.status_code == 404
        assert topic_id not in refused.text


async def test_clients_hanging_up_halfway_give_their_places_back(server: EmsServer) -> None:
    """More raw connections than the client may hold streams, each closed right after the
    answer starts: each place comes back soon, and a stream after them is admitted."""
    async with connect(server) as client:
        queue = await new_queue(client)
        topic_id = (await client.post("/ems/topic")).json()["topic_id"]
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        for path in [f"/ems/queue/{queue['queue_id']}/stream", f"/ems/topic/{topic_id}/stream"] * 4:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            writer.close()
            await writer.wait_closed()
            await no_streams_open(client)
        sent = await send(client, queue["queue_id"], "after")
        async with streaming(client, f"/ems/queue/{queue['queue_id']}/stream") as events:
            assert (await events.message())["message_id"] == sent


async def no_streams_open(client: httpx.AsyncClient) -> None:
    for _ in range(50):
        metrics = (await client.get("/metrics")).text
        if 'ems_streams_open{kind="queue"} 0' in metrics and (
            'ems_streams_open{kind="topic"} 0' in metrics
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("a stream whose client hung up still holds its place")
