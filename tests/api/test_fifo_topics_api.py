"""FIFO topics over HTTP, on both backends: group ids and deduplication at publish, FIFO queue
subscriptions only, and each group in publish order in every subscribed queue."""

from __future__ import annotations

import httpx

from ems.core.clock import ManualClock
from tests.api.conftest import assert_problem, create_queue
from tests.api.test_fifo_api import fifo_queue, send
from tests.api.test_messages_api import receive
from tests.api.test_topics_api import create_topic


async def publish(
    client: httpx.AsyncClient, topic_id: str, body: str, group: str | None, **headers: str
) -> httpx.Response:
    if group is not None:
        headers["EMS-Group-Id"] = group
    return await client.post(f"/ems/topic/{topic_id}/message", content=body, headers=headers)


async def subscribe(client: httpx.AsyncClient, topic_id: str, queue_id: str) -> httpx.Response:
    return await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}")


async def test_a_fifo_topic_is_created_and_shown(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client, fifo=True, content_based_deduplication=True)
    shown = (await client.get(f"/ems/topic/{topic_id}")).json()
    assert (shown["fifo"], shown["content_based_deduplication"]) == (True, True)
    standard = (await client.get(f"/ems/topic/{await create_topic(client)}")).json()
    assert standard["fifo"] is False
    assert "content_based_deduplication" not in standard
    refused = await client.post("/ems/topic", json={"content_based_deduplication": True})
    assert_problem(refused, 400, "invalid-attribute")
    assert_problem(await client.post("/ems/topic", json={"fifo": 1}), 400, "invalid-attribute")


async def test_only_fifo_queues_subscribe_to_a_fifo_topic(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client, fifo=True)
    assert (await subscribe(client, topic_id, await fifo_queue(client))).status_code == 201
    standard_queue = await create_queue(client)
    assert_problem(await subscribe(client, topic_id, standard_queue), 400, "invalid-request")
    base = f"/ems/topic/{topic_id}/subscription"
    webhook = await client.post(base + "?url=https://example.com/hook")
    assert_problem(webhook, 400, "invalid-request")
    email = await client.post(base + "?email=someone@example.com")
    assert_problem(email, 400, "invalid-request")
    # as SNS: a FIFO queue cannot be subscribed to a standard topic
    standard_topic = await create_topic(client)
    fifo_on_standard = await subscribe(client, standard_topic, await fifo_queue(client))
    assert "FIFO topic" in assert_problem(fifo_on_standard, 400, "invalid-request")["detail"]


async def test_what_a_fifo_topic_refuses(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client, fifo=True)
    no_group = await publish(client, topic_id, "x", None, **{"EMS-Deduplication-Id": "d"})
    assert no_group.json()["parameter"] == "EMS-Group-Id"
    assert_problem(no_group, 400, "missing-group-id")
    no_dedup = await publish(client, topic_id, "x", "g")
    assert (
        "content_based_deduplication" in assert_problem(no_dedup, 400, "invalid-request")["detail"]
    )
    bad_group = await publish(client, topic_id, "x", "g h", **{"EMS-Deduplication-Id": "d"})
    assert_problem(bad_group, 400, "invalid-request")
    standard = await create_topic(client)
    assert_problem(await publish(client, standard, "x", "g"), 400, "invalid-request")
    deduplicated = await publish(client, standard, "x", None, **{"EMS-Deduplication-Id": "d"})
    assert_problem(deduplicated, 400, "invalid-request")


async def test_each_queue_gets_every_group_in_publish_order(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    topic_id = await create_topic(client, fifo=True, content_based_deduplication=True)
    queues = [await fifo_queue(client, visibility_timeout=30) for _ in range(2)]
    for queue_id in queues:
        assert (await subscribe(client, topic_id, queue_id)).status_code == 201
    order = [("a0", "a"), ("b0", "b"), ("a1", "a"), ("b1", "b"), ("a2", "a")]
    for body, group in order:
        published = await publish(client, topic_id, body, group)
        assert published.status_code == 201, published.text
        assert published.json()["queues"] == 2
    for queue_id in queues:
        (head,) = await receive(client, queue_id)
        assert (head["body"], head["group_id"]) == ("a0", "a")
        # group a waits for its head; group b comes in order
        assert [m["body"] for m in await receive(client, queue_id, "?max_messages=10")] == [
            "b0",
            "b1",
        ]
    clock.advance(30)
    for queue_id in queues:
        got = await receive(client, queue_id, "?max_messages=10")
        assert [(m["body"], m["group_id"]) for m in got] == [
            ("a0", "a"), ("a1", "a"), ("a2", "a"), ("b0", "b"), ("b1", "b"),
        ]  # fmt: skip


async def test_a_repeated_publish_is_answered_and_stored_once(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client, fifo=True)
    queue_id = await fifo_queue(client)
    await subscribe(client, topic_id, queue_id)
    first = await publish(client, topic_id, "pay", "g", **{"EMS-Deduplication-Id": "order-1"})
    again = await publish(client, topic_id, "pay?", "g", **{"EMS-Deduplication-Id": "order-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["ems-duplicate"] == "true"
    assert again.json()["message_id"] == first.json()["message_id"]
    # Idempotency-Key is the deduplication id on a FIFO topic too, and the scope is the topic
    keyed = await publish(client, topic_id, "pay", "h", **{"Idempotency-Key": "order-1"})
    assert keyed.status_code == 200
    content = await create_topic(client, fifo=True, content_based_deduplication=True)
    await subscribe(client, content, queue_id)
    assert (await publish(client, content, "same", "g")).status_code == 201
    assert (await publish(client, content, "same", "g")).status_code == 200
    got = await receive(client, queue_id, "?max_messages=10")
    assert [m["body"] for m in got] == ["pay", "same"]
    assert got[0]["message_id"] == first.json()["message_id"]


async def test_a_queue_deduplicates_copies_by_its_own_window(client: httpx.AsyncClient) -> None:
    # the copy carries the publish's deduplication id: a queue that already holds that id (sent
    # to it directly) does not store the copy again, as an SQS FIFO queue under SNS
    topic_id = await create_topic(client, fifo=True)
    queue_id = await fifo_queue(client)
    other = await fifo_queue(client)
    for queue in (queue_id, other):
        await subscribe(client, topic_id, queue)
    assert (await send(client, queue_id, "direct", "g", dedup="d1")).status_code == 201
    published = await publish(client, topic_id, "via topic", "g", **{"EMS-Deduplication-Id": "d1"})
    assert published.json()["queues"] == 1
    assert [m["body"] for m in await receive(client, queue_id, "?max_messages=10")] == ["direct"]
    assert [m["body"] for m in await receive(client, other, "?max_messages=10")] == ["via topic"]


async def test_a_full_queue_forgets_the_copy_it_could_not_store(
    client: httpx.AsyncClient,
) -> None:
    topic_id = await create_topic(client, fifo=True)
    queue_id = await fifo_queue(client, max_stored_messages=1)
    await subscribe(client, topic_id, queue_id)
    assert (await send(client, queue_id, "fills it", "g", dedup="d0")).status_code == 201
    skipped = await publish(client, topic_id, "x", "g", **{"EMS-Deduplication-Id": "d1"})
    assert skipped.json()["skipped"] == 1
    (head,) = await receive(client, queue_id)
    await client.delete(f"/ems/queue/{queue_id}/message/{head['receipt_handle']}")
    # the queue did not keep d1 from the failed copy: sent directly now, it is stored
    assert (await send(client, queue_id, "x", "g", dedup="d1")).status_code == 201


async def test_huge_or_non_ascii_group_and_deduplication_headers_are_refused_briefly(
    client: httpx.AsyncClient,
) -> None:
    topic_id = await create_topic(client, fifo=True, content_based_deduplication=True)
    queue_id = await fifo_queue(client)
    assert (await subscribe(client, topic_id, queue_id)).status_code == 201
    url = f"/ems/topic/{topic_id}/message"
    for name in (b"EMS-Group-Id", b"EMS-Deduplication-Id"):
        others = {b"EMS-Group-Id": b"g", b"EMS-Deduplication-Id": b"d"}
        for value in (b"g" * 129, b"x" * 16_000, "gr\u00fcn".encode(), b"\xff\xfe", b"a\x7fb"):
            headers = {**others, name: value}
            refused = await client.post(url, content=b"x", headers=headers)
            problem = assert_problem(refused, 400, "invalid-request")
            assert problem["parameter"] == name.decode()
            assert len(refused.content) < 1_000  # the value is not echoed back whole
    assert await receive(client, queue_id) == []
