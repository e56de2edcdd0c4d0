"""FIFO queues and FIFO topics through a kill -9 mid-batch, on SQLite and on PostgreSQL.

A real ``ems serve`` is killed while a producer sends batches (or publishes) with deduplication
ids, then restarted; the producer retries everything. Every message must then be there once
(no gap, no duplicate), each group in send order, and the ids acknowledged before the crash
still remembered (the deduplication window survives the crash).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.e2e.crash import crash_and_retry
from tests.e2e.server import EmsServer

BATCHES, PER_BATCH, GROUPS = 100, 10, 3
EXPECTED = [f"m{b:03d}-{i}" for b in range(BATCHES) for i in range(PER_BATCH)]


def group_of(body: str) -> str:
    return f"g{int(body[-1]) % GROUPS}"


def server_on(backend: str, tmp_path: Path) -> EmsServer:
    if backend == "postgres":
        database = (pg.database_url(), pg.schema_for(tmp_path))
        return EmsServer(tmp_path / "data", database=database)
    return EmsServer(tmp_path / "data")


def drain(client: httpx.Client, queue_id: str) -> list[str]:
    """Every message of a FIFO queue, receiving and deleting, in the order received."""
    bodies: list[str] = []
    for _ in range(2 * BATCHES):  # bounded: 1000 messages, 10 per receive
        got = client.get(
            f"/ems/queue/{queue_id}/message",
            params={"max_messages": 10, "visibility_timeout": 300},
        ).json()["messages"]
        if not got:
            break
        client.post(
            f"/ems/queue/{queue_id}/messages/delete",
            json={"receipt_handles": [m["receipt_handle"] for m in got]},
        ).raise_for_status()
        bodies += [m["body"] for m in got]
    return bodies


def assert_exactly_once_in_order(bodies: list[str]) -> None:
    assert sorted(bodies) == EXPECTED  # none lost, none twice
    for group in {group_of(body) for body in EXPECTED}:
        mine = [body for body in bodies if group_of(body) == group]
        assert mine == [body for body in EXPECTED if group_of(body) == group], group


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_fifo_queue_through_kill_9_mid_batch(tmp_path: Path, backend: str) -> None:
    server = server_on(backend, tmp_path).start()
    try:
        created = httpx.post(f"{server.url}/ems/queue", json={"fifo": True})
        queue_id = created.json()["queue_id"]

        def send_all(client: httpx.Client) -> None:
            for b in range(BATCHES):
                entries = [
                    {"body": body, "group_id": group_of(body), "deduplication_id": body}
                    for body in EXPECTED[b * PER_BATCH : (b + 1) * PER_BATCH]
                ]
                sent = client.post(f"/ems/queue/{queue_id}/messages", json={"messages": entries})
                sent.raise_for_status()

        crash_and_retry(server, send_all)
        with httpx.Client(base_url=server.url, timeout=15) as client:
            assert_exactly_once_in_order(drain(client, queue_id))
            # the window holds after the crash and after the messages were deleted
            again = client.post(
                f"/ems/queue/{queue_id}/message",
                content=EXPECTED[0],
                headers={
                    "EMS-Group-Id": group_of(EXPECTED[0]),
                    "EMS-Deduplication-Id": EXPECTED[0],
                },
            )
            assert (again.status_code, again.headers["ems-duplicate"]) == (200, "true")
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_fifo_topic_through_kill_9_mid_publishing(tmp_path: Path, backend: str) -> None:
    server = server_on(backend, tmp_path).start()
    try:
        topic_id = httpx.post(f"{server.url}/ems/topic", json={"fifo": True}).json()["topic_id"]
        queues = [
            httpx.post(f"{server.url}/ems/queue", json={"fifo": True}).json()["queue_id"]
            for _ in range(2)
        ]
        for queue_id in queues:
            subscribed = httpx.post(
                f"{server.url}/ems/topic/{topic_id}/subscription", params={"queue_id": queue_id}
            )
            assert subscribed.status_code == 201, subscribed.text

        def send_all(client: httpx.Client) -> None:
            for body in EXPECTED[: BATCHES * PER_BATCH // 4]:
                headers = {"EMS-Group-Id": group_of(body), "EMS-Deduplication-Id": body}
                client.post(
                    f"/ems/topic/{topic_id}/message", content=body, headers=headers
                ).raise_for_status()

        crash_and_retry(server, send_all)
        published = EXPECTED[: BATCHES * PER_BATCH // 4]
        with httpx.Client(base_url=server.url, timeout=15) as client:
            for queue_id in queues:
                bodies = drain(client, queue_id)
                assert sorted(bodies) == published
                for group in {group_of(body) for body in published}:
                    mine = [body for body in bodies if group_of(body) == group]
                    assert mine == [body for body in published if group_of(body) == group]
    finally:
        server.stop()
