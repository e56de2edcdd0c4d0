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


def test_a_fifo_topic_published_to_from_two_nodes_keeps_groups_in_order(tmp_path: Path) -> None:
    """Publishers on both nodes, each group's publishes one after another but its groups
    interleaved with the other node's; every publish also retried on the other node: each
    subscribed queue gets every message once, each group in publish order (the database, not a
    node's memory, deduplicates and orders)."""
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        topic_id = httpx.post(f"{a.url}/ems/topic", json={"fifo": True}).json()["topic_id"]
        queues = [
            httpx.post(f"{node.url}/ems/queue", json={"fifo": True}).json()["queue_id"]
            for node in (a, b)
        ]
        for queue_id in queues:
            subscribed = httpx.post(
                f"{b.url}/ems/topic/{topic_id}/subscription", params={"queue_id": queue_id}
            )
            assert subscribed.status_code == 201, subscribed.text
        groups, per_group = 6, 15
        statuses: Counter[int] = Counter()

        async def publisher(first: EmsServer, second: EmsServer, group: int) -> None:
            async with httpx.AsyncClient(timeout=15) as client:
                for n in range(per_group):
                    for node in (first, second):  # the publish, then its retry elsewhere
                        answer = await client.post(
                            f"{node.url}/ems/topic/{topic_id}/message",
                            content=f"{group}:{n}",
                            headers={"EMS-Group-Id": f"g{group}",
                                     "EMS-Deduplication-Id": f"{group}:{n}"},
                        )  # fmt: skip
                        statuses[answer.status_code] += 1

        async def publish_all() -> None:
            await asyncio.gather(
                *(publisher(*((a, b) if g % 2 else (b, a)), g) for g in range(groups))
            )

        asyncio.run(publish_all())
        assert statuses == {201: groups * per_group, 200: groups * per_group}
        for queue_id in queues:
            bodies: list[str] = []
            for _ in range(groups * per_group):  # bounded
                got = httpx.get(
                    f"{a.url}/ems/queue/{queue_id}/message", params={"max_messages": 10}
                ).json()["messages"]
                if not got:
                    break
                httpx.post(
                    f"{b.url}/ems/queue/{queue_id}/messages/delete",
                    json={"receipt_handles": [m["receipt_handle"] for m in got]},
                ).raise_for_status()
                bodies += [m["body"] for m in got]
            assert len(bodies) == groups * per_group
            for group in range(groups):
                mine = [body for body in bodies if body.startswith(f"{group}:")]
                assert mine == [f"{group}:{n}" for n in range(per_group)], mine
    finally:
        a.stop()
        b.stop()
