"""FIFO queues over HTTP, on both backends: groups in order, one receive in flight per group,
deduplication, and the rules around them (the regressions other emulators shipped included)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ems.core.clock import ManualClock
from tests.api.conftest import assert_problem, create_queue
from tests.api.test_messages_api import receive


async def send(
    client: httpx.AsyncClient, queue_id: str, body: str, group: str, dedup: str | None = None
) -> httpx.Response:
    headers = {"EMS-Group-Id": group}
    if dedup is not None:
        headers["EMS-Deduplication-Id"] = dedup
    return await client.post(f"/ems/queue/{queue_id}/message", content=body, headers=headers)


async def fifo_queue(client: httpx.AsyncClient, **attributes: Any) -> str:
    return await create_queue(client, fifo=True, content_based_deduplication=True, **attributes)


async def test_fifo_attributes_are_set_at_creation_and_shown(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(
        client, fifo=True, deduplication_scope="group", throughput_limit="group"
    )
    shown = (await client.get(f"/ems/queue/{queue_id}")).json()
    assert (shown["fifo"], shown["content_based_deduplication"]) == (True, False)
    assert (shown["deduplication_scope"], shown["throughput_limit"]) == ("group", "group")
    patched = await client.patch(f"/ems/queue/{queue_id}", json={"fifo": False})
    assert_problem(patched, 400, "invalid-attribute")
    standard = await client.post("/ems/queue", json={"content_based_deduplication": True})
    assert_problem(standard, 400, "invalid-attribute")
    bad = await client.post("/ems/queue", json={"fifo": True, "deduplication_scope": "x"})
    assert_problem(bad, 400, "invalid-attribute")


async def test_a_group_waits_while_its_message_is_in_flight(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    # LocalStack #6762/#12457: later messages of a group came while an earlier one was invisible
    queue_id = await fifo_queue(client, visibility_timeout=30)
    for i in range(3):
        assert (await send(client, queue_id, f"a{i}", "a")).status_code == 201
    (first,) = await receive(client, queue_id)
    assert (first["body"], first["group_id"]) == ("a0", "a")
    assert await receive(client, queue_id, "?max_messages=10") == []
    clock.advance(30)  # not deleted: it comes again, first
    again = await receive(client, queue_id, "?max_messages=10")
    assert [m["body"] for m in again] == ["a0", "a1", "a2"]
    numbers = [int(m["sequence_number"]) for m in again]
    assert numbers == sorted(numbers)


async def test_one_group_as_far_as_it_goes_then_the_others(client: httpx.AsyncClient) -> None:
    queue_id = await fifo_queue(client)
    for body, group in [("a0", "a"), ("b0", "b"), ("a1", "a"), ("c0", "c"), ("b1", "b")]:
        await send(client, queue_id, body, group)
    got = await receive(client, queue_id, "?max_messages=3")
    assert [m["body"] for m in got] == ["a0", "a1", "b0"]
    # a and b are in flight; c is free
    assert [m["body"] for m in await receive(client, queue_id, "?max_messages=10")] == ["c0"]


async def test_deleting_the_head_frees_its_group(client: httpx.AsyncClient) -> None:
    queue_id = await fifo_queue(client)
    await send(client, queue_id, "a0", "a")
    await send(client, queue_id, "a1", "a")
    (head,) = await receive(client, queue_id)
    await client.delete(f"/ems/queue/{queue_id}/message/{head['receipt_handle']}")
    assert [m["body"] for m in await receive(client, queue_id)] == ["a1"]


async def test_deduplication_by_id_and_by_content(client: httpx.AsyncClient) -> None:
    queue_id = await fifo_queue(client)
    first = await send(client, queue_id, "pay", "g", dedup="d1")
    again = await send(client, queue_id, "pay twice?", "g", dedup="d1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message_id"] == first.json()["message_id"]
    same_body = await send(client, queue_id, "hello", "g")
    assert (await send(client, queue_id, "hello", "h")).json() == same_body.json()
    no_content = await create_queue(client, fifo=True)
    refused = await send(client, no_content, "x", "g")
    assert_problem(refused, 400, "invalid-request")
    assert "content_based_deduplication" in refused.json()["detail"]


async def test_group_scope_keeps_the_same_id_in_two_groups(client: httpx.AsyncClient) -> None:
    # LocalStack #10460 (both enqueued) and floci #901 (the scope honoured)
    queue_id = await fifo_queue(client, deduplication_scope="group")
    assert (await send(client, queue_id, "x", "g1", dedup="d")).status_code == 201
    assert (await send(client, queue_id, "x", "g2", dedup="d")).status_code == 201
    assert (await send(client, queue_id, "x", "g2", dedup="d")).status_code == 200
    queue_scope = await fifo_queue(client)
    assert (await send(client, queue_scope, "x", "g1", dedup="d")).status_code == 201
    assert (await send(client, queue_scope, "x", "g2", dedup="d")).status_code == 200


async def test_the_id_is_remembered_after_its_message_is_deleted(
    client: httpx.AsyncClient,
) -> None:
    # ElasticMQ #354
    queue_id = await fifo_queue(client)
    await send(client, queue_id, "x", "g", dedup="d")
    (got,) = await receive(client, queue_id)
    await client.delete(f"/ems/queue/{queue_id}/message/{got['receipt_handle']}")
    assert (await send(client, queue_id, "x", "g", dedup="d")).status_code == 200
    assert await receive(client, queue_id) == []


async def test_a_batch_keeps_its_order(client: httpx.AsyncClient) -> None:
    # ElasticMQ #267
    queue_id = await fifo_queue(client)
    entries = [{"body": f"m{i}", "group_id": "g"} for i in range(20)]
    sent = await client.post(f"/ems/queue/{queue_id}/messages", json={"messages": entries})
    assert sent.status_code == 201, sent.text
    got = await receive(client, queue_id, "?max_messages=100")
    assert [m["body"] for m in got] == [f"m{i}" for i in range(20)]
    missing = await client.post(
        f"/ems/queue/{queue_id}/messages", json={"messages": [{"body": "x"}]}
    )
    assert "messages[0].group_id" in assert_problem(missing, 400, "missing-group-id")["detail"]


async def test_what_a_fifo_queue_refuses(client: httpx.AsyncClient) -> None:
    queue_id = await fifo_queue(client)
    url = f"/ems/queue/{queue_id}/message"
    assert_problem(await client.post(url, content=b"x"), 400, "missing-group-id")
    delayed = await client.post(
        url + "?delay_seconds=5", content=b"x", headers={"EMS-Group-Id": "g"}
    )
    assert_problem(delayed, 400, "invalid-request")
    correlated = await client.get(url + "?correlation_id=r1")
    assert_problem(correlated, 400, "invalid-request")
    standard = await create_queue(client)
    grouped = await send(client, standard, "x", "g")
    assert_problem(grouped, 400, "invalid-request")
    dlq_standard = await client.post(
        "/ems/queue", json={"fifo": True, "dead_letter": {"queue_id": standard, "max_receives": 2}}
    )
    assert_problem(dlq_standard, 400, "invalid-attribute")


async def test_the_dead_letter_queue_unblocks_the_group(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    dlq = await fifo_queue(client)
    queue_id = await fifo_queue(
        client, visibility_timeout=5, dead_letter={"queue_id": dlq, "max_receives": 1}
    )
    await send(client, queue_id, "poison", "g")
    await send(client, queue_id, "next", "g")
    assert [m["body"] for m in await receive(client, queue_id)] == ["poison"]
    clock.advance(5)
    got = await receive(client, queue_id)
    assert [m["body"] for m in got] == ["next"]
    (dead,) = await receive(client, dlq)
    assert (dead["body"], dead["group_id"]) == ("poison", "g")
    redrive = await client.post(f"/ems/queue/{dlq}/redrive")
    assert_problem(redrive, 400, "invalid-request")


async def test_peek_visibility_purge_and_retention_on_fifo(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    queue_id = await fifo_queue(client, retention_seconds=60)
    await send(client, queue_id, "a0", "a", dedup="d0")
    await send(client, queue_id, "a1", "a", dedup="d1")
    (head,) = await receive(client, queue_id)
    peeked = (await client.get(f"/ems/queue/{queue_id}/peek")).json()["messages"]
    assert [(m["group_id"], m["state"]) for m in peeked] == [("a", "in_flight"), ("a", "visible")]
    # released at once: the group comes again, head first
    handle = head["receipt_handle"]
    await client.patch(f"/ems/queue/{queue_id}/message/{handle}?visibility_timeout=0")
    assert [m["body"] for m in await receive(client, queue_id, "?max_messages=5")] == ["a0", "a1"]
    assert (await client.post(f"/ems/queue/{queue_id}/purge")).status_code == 204
    assert (await send(client, queue_id, "a0", "a", dedup="d0")).status_code == 200
    # an expired head holds nothing back
    await send(client, queue_id, "old", "b", dedup="d2")
    clock.advance(40)
    await send(client, queue_id, "new", "b", dedup="d3")
    (old,) = await receive(client, queue_id)
    assert old["body"] == "old"
    clock.advance(30)  # "old" expired while in flight; its group goes on
    assert [m["body"] for m in await receive(client, queue_id)] == ["new"]


async def test_fifo_attributes_cannot_be_patched_nor_set_on_standard_queues(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await fifo_queue(client)
    for name, value in [
        ("fifo", True),
        ("content_based_deduplication", False),
        ("deduplication_scope", "group"),
        ("throughput_limit", "group"),
    ]:
        patched = await client.patch(f"/ems/queue/{queue_id}", json={name: value})
        assert assert_problem(patched, 400, "invalid-attribute")["parameter"] == name
        if name != "fifo":
            for fifo in ({}, {"fifo": False}):
                standard = await client.post("/ems/queue", json={**fifo, name: value})
                assert assert_problem(standard, 400, "invalid-attribute")["parameter"] == name
    shown = (await client.get(f"/ems/queue/{queue_id}")).json()
    assert (shown["content_based_deduplication"], shown["deduplication_scope"]) == (True, "queue")


async def test_a_batch_reports_its_duplicates_and_refuses_delays(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await fifo_queue(client)
    url = f"/ems/queue/{queue_id}/messages"
    first = await client.post(url, json={"messages": [{"body": "a", "group_id": "g"}]})
    entries = [
        {"body": "a", "group_id": "g"},  # a repeat by content
        {"body": "b", "group_id": "g", "deduplication_id": "d"},
        {"body": "c", "group_id": "g", "deduplication_id": "d"},  # a repeat within the batch
        {"body": "e", "group_id": "h"},
    ]
    sent = await client.post(url, json={"messages": entries})
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert answer["duplicates"] == [True, False, True, False]
    assert answer["message_ids"][0] == first.json()["message_ids"][0]
    assert answer["message_ids"][2] == answer["message_ids"][1]
    got = await receive(client, queue_id, "?max_messages=10")
    assert [m["body"] for m in got] == ["a", "b", "e"]
    delayed = await client.post(
        url, json={"messages": [{"body": "x", "group_id": "g", "delay_seconds": 1}]}
    )
    assert assert_problem(delayed, 400, "invalid-request")["parameter"] == "delay_seconds"


async def test_the_deduplication_window_goes_up_to_a_day(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    queue_id = await fifo_queue(client, deduplication_window_seconds=86_400)
    assert (await send(client, queue_id, "x", "g", dedup="d")).status_code == 201
    clock.advance(86_399)
    assert (await send(client, queue_id, "x", "g", dedup="d")).status_code == 200
    clock.advance(1)
    assert (await send(client, queue_id, "x", "g", dedup="d")).status_code == 201
    too_long = await client.post(
        "/ems/queue", json={"fifo": True, "deduplication_window_seconds": 86_401}
    )
    assert_problem(too_long, 400, "invalid-attribute")


@pytest.mark.parametrize("groups", [5, 40])  # read group by group, and walked in send order
async def test_runs_of_groups_held_and_freed_with_few_and_many_groups(
    client: httpx.AsyncClient, clock: ManualClock, groups: int
) -> None:
    queue_id = await fifo_queue(client, visibility_timeout=30)
    url = f"/ems/queue/{queue_id}/messages"
    for n in range(3):
        entries = [{"body": f"{g}:{n}", "group_id": f"g{g}"} for g in range(groups)]
        assert (await client.post(url, json={"messages": entries})).status_code == 201
    first = await receive(client, queue_id, "?max_messages=10")
    assert [m["body"] for m in first] == [
        "0:0", "0:1", "0:2", "1:0", "1:1", "1:2", "2:0", "2:1", "2:2", "3:0",
    ]  # fmt: skip
    # groups 0 to 3 are in flight (3 only its head): the next one comes from group 4
    assert [m["body"] for m in await receive(client, queue_id)] == ["4:0"]
    handle = first[-1]["receipt_handle"]
    await client.delete(f"/ems/queue/{queue_id}/message/{handle}")
    # group 3 is free again, from 3:1; with 40 groups, group 5's run starts earlier (5:0)
    expected = ["3:1", "3:2"] if groups == 5 else ["5:0", "5:1"]
    assert [m["body"] for m in await receive(client, queue_id, "?max_messages=2")] == expected
    clock.advance(30)  # everything in flight comes back, each group from its oldest
    again = await receive(client, queue_id, "?max_messages=4")
    assert [m["body"] for m in again] == ["0:0", "0:1", "0:2", "1:0"]
