"""Idempotency keys held by the database: across two PostgreSQL nodes, and through a kill -9.

Real ``ems serve`` processes. The keys must be decided by the database (a node's memory cannot
know what the other node stored), and a producer that retries everything after a crash must end
with each message stored exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.e2e.crash import crash_and_retry
from tests.e2e.server import EmsServer


def test_retries_spread_over_two_nodes_store_each_key_once(tmp_path: Path) -> None:
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        queue_id = httpx.post(f"{a.url}/ems/queue").json()["queue_id"]
        keys = [f"order-{i}" for i in range(60)]
        answers: dict[str, list[tuple[int, str]]] = defaultdict(list)

        async def producer(node: EmsServer, attempt: int) -> None:
            async with httpx.AsyncClient(base_url=node.url, timeout=15) as client:
                for key in keys:
                    response = await client.post(
                        f"/ems/queue/{queue_id}/message",
                        content=f"{key} try {attempt}",
                        headers={"Idempotency-Key": key},
                    )
                    answers[key].append((response.status_code, response.json()["message_id"]))

        async def race() -> None:
            await asyncio.gather(*(producer(node, n) for n in range(3) for node in (a, b)))

        asyncio.run(race())
        for key in keys:
            statuses = Counter(status for status, _ in answers[key])
            assert statuses == {201: 1, 200: 5}, (key, statuses)
            assert len({message_id for _, message_id in answers[key]}) == 1, key
        stats = httpx.get(f"{b.url}/ems/queue/{queue_id}").json()
        assert stats["messages_visible"] == len(keys)
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_a_producer_retrying_after_kill_9_stores_each_message_once(
    tmp_path: Path, fifo: bool
) -> None:
    server = EmsServer(tmp_path / "data").start()
    attributes = {"fifo": True} if fifo else {}
    queue_id = httpx.post(f"{server.url}/ems/queue", json=attributes).json()["queue_id"]
    batches = [[f"m{b:03d}-{i}" for i in range(10)] for b in range(200)]
    url = f"/ems/queue/{queue_id}/messages"

    def send_all(client: httpx.Client) -> None:
        for batch in batches:
            entries: list[dict[str, str]] = [
                {"body": body, "idempotency_key": body} for body in batch
            ]
            if fifo:  # groups across batches: each group's order must survive the crash too
                for entry in entries:
                    entry["group_id"] = f"g{int(entry['body'][-1]) % 3}"
            client.post(url, json={"messages": entries}).raise_for_status()

    try:
        crash_and_retry(server, send_all)  # mid-way, asserted; then everything again, keys and all
        with httpx.Client(base_url=server.url, timeout=15) as client:
            bodies: list[str] = []
            for _ in range(400):  # bounded: 2000 messages, 10 per receive
                got = client.get(
                    f"/ems/queue/{queue_id}/message",
                    params={"max_messages": 10, "visibility_timeout": 300},
                ).json()["messages"]
                if fifo:  # a FIFO group gives nothing more while its messages are in flight
                    client.post(
                        f"/ems/queue/{queue_id}/messages/delete",
                        json={"receipt_handles": [m["receipt_handle"] for m in got]},
                    )
                if not got:
                    break
                bodies += [m["body"] for m in got]
        expected = [body for batch in batches for body in batch]
        assert sorted(bodies) == expected  # none lost, none twice
        if fifo:  # in send order within each group
            for group in range(3):
                mine = [b for b in bodies if int(b[-1]) % 3 == group]
                assert mine == [b for b in expected if int(b[-1]) % 3 == group]
        else:
            assert bodies == expected  # and in send order
    finally:
        server.stop()
