"""FIFO order held by the database: competing consumers on two PostgreSQL nodes.

Real ``ems serve`` processes on one database. Consumers on both nodes never get message k+1 of a
group while message k is in flight (or before it), and deduplication holds across nodes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests import pg
from tests.e2e.server import EmsServer

GROUPS, PER_GROUP = 30, 20


def test_consumers_on_two_nodes_keep_every_group_in_order(tmp_path: Path) -> None:
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        created = httpx.post(
            f"{a.url}/ems/queue",
            json={"fifo": True, "content_based_deduplication": True, "visibility_timeout": 60},
        )
        queue_id = created.json()["queue_id"]
        for group in range(GROUPS):
            entries = [{"body": f"{group}:{n}", "group_id": f"g{group}"} for n in range(PER_GROUP)]
            node = (a, b)[group % 2]
            sent = httpx.post(
                f"{node.url}/ems/queue/{queue_id}/messages", json={"messages": entries}
            )
            assert sent.status_code == 201, sent.text
        # deduplication across nodes: a's content-based keys are b's too
        repeat = httpx.post(
            f"{b.url}/ems/queue/{queue_id}/message",
            content="0:0",
            headers={"EMS-Group-Id": "g0"},
        )
        assert repeat.status_code == 200
        released: set[tuple[int, int]] = set()  # handed back for deletion, in flight no more
        received: Counter[tuple[int, int]] = Counter()
        violations: list[str] = []

        async def consumer(node: EmsServer) -> None:
            async with httpx.AsyncClient(base_url=node.url, timeout=15) as client:
                for _ in range(2000):  # bounded; ends when the queue is empty
                    response = await client.get(
                        f"/ems/queue/{queue_id}/message",
                        params={"max_messages": 5, "wait_seconds": 1},
                    )
                    messages = response.json()["messages"]
                    if not messages:
                        return
                    in_hand: set[tuple[int, int]] = set()
                    for message in messages:
                        group, n = map(int, message["body"].split(":"))
                        earlier = {(group, m) for m in range(n)}
                        if not earlier <= released | in_hand:
                            violations.append(f"{group}:{n} came before an earlier one was done")
                        in_hand.add((group, n))
                        received[(group, n)] += 1
                    await asyncio.sleep(0.002)  # "processing"
                    released.update(in_hand)
                    await client.post(
                        f"/ems/queue/{queue_id}/messages/delete",
                        json={"receipt_handles": [m["receipt_handle"] for m in messages]},
                    )

        async def compete() -> None:
            await asyncio.gather(*(consumer(node) for node in (a, b) for _ in range(4)))

        asyncio.run(compete())
        assert not violations, violations[:5]
        assert set(received) == {(g, n) for g in range(GROUPS) for n in range(PER_GROUP)}
        assert max(received.values()) == 1
    finally:
        a.stop()
        b.stop()
