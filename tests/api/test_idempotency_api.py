"""Idempotency keys over HTTP: ``Idempotency-Key`` on sends and ``idempotency_key`` in batches."""

from __future__ import annotations

import httpx

from ems.core.clock import ManualClock
from tests.api.conftest import assert_problem, create_queue
from tests.api.test_messages_api import receive


async def test_a_retried_send_answers_200_duplicate_with_the_original_id(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await create_queue(client)
    url = f"/ems/queue/{queue_id}/message"
    first = await client.post(url, content=b"pay 10", headers={"Idempotency-Key": "pay-42"})
    assert first.status_code == 201
    assert "ems-duplicate" not in first.headers
    again = await client.post(url, content=b"pay 10", headers={"Idempotency-Key": "pay-42"})
    assert again.status_code == 200
    assert again.headers["ems-duplicate"] == "true"
    assert again.json() == {"message_id": first.json()["message_id"]}
    other = await client.post(url, content=b"pay 10", headers={"Idempotency-Key": "pay-43"})
    assert other.status_code == 201
    got = await receive(client, queue_id, "?max_messages=10")
    assert [m["message_id"] for m in got] == [
        first.json()["message_id"],
        other.json()["message_id"],
    ]


async def test_the_window_is_five_minutes(client: httpx.AsyncClient, clock: ManualClock) -> None:
    queue_id = await create_queue(client)
    url = f"/ems/queue/{queue_id}/message"
    headers = {"Idempotency-Key": "k"}
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 201
    clock.advance(299)
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 200
    clock.advance(1)
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 201


async def test_a_bad_key_is_refused_and_stores_nothing(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    for bad in [b"has space", b"x" * 129, "é".encode()]:
        response = await client.post(
            f"/ems/queue/{queue_id}/message", content=b"a", headers={b"Idempotency-Key": bad}
        )
        problem = assert_problem(response, 400, "invalid-request")
        assert "Idempotency-Key" in problem["detail"]
    assert await receive(client, queue_id) == []


async def test_a_batch_reports_each_duplicate(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    url = f"/ems/queue/{queue_id}/messages"
    first = await client.post(url, json={"messages": [{"body": "a", "idempotency_key": "a"}]})
    assert first.status_code == 201
    (a_id,) = first.json()["message_ids"]
    batch = {
        "messages": [
            {"body": "plain"},
            {"body": "a again", "idempotency_key": "a"},
            {"body": "b", "idempotency_key": "b"},
            {"body": "b again", "idempotency_key": "b"},
        ]
    }
    response = await client.post(url, json=batch)
    assert response.status_code == 201
    answer = response.json()
    assert answer["duplicates"] == [False, True, False, True]
    ids = answer["message_ids"]
    assert ids[1] == a_id
    assert ids[3] == ids[2]
    got = await receive(client, queue_id, "?max_messages=10")
    assert [m["body"] for m in got] == ["a", "plain", "b"]


async def test_a_retried_batch_under_one_header_is_all_duplicates(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await create_queue(client)
    url = f"/ems/queue/{queue_id}/messages"
    batch = {"messages": [{"body": "1"}, {"body": "2"}]}
    headers = {"Idempotency-Key": "batch-7"}
    first = await client.post(url, json=batch, headers=headers)
    assert first.status_code == 201
    again = await client.post(url, json=batch, headers=headers)
    assert again.status_code == 200
    assert again.headers["ems-duplicate"] == "true"
    assert again.json() == {"message_ids": first.json()["message_ids"], "duplicates": [True, True]}
    both = {"messages": [{"body": "1", "idempotency_key": "x"}]}
    assert_problem(await client.post(url, json=both, headers=headers), 400, "invalid-request")
    assert len(await receive(client, queue_id, "?max_messages=10")) == 2


async def test_a_send_only_id_may_use_keys(client: httpx.AsyncClient) -> None:
    created = (await client.post("/ems/queue")).json()
    url = f"/ems/queue/{created['send_id']}/message"
    first = await client.post(url, content=b"a", headers={"Idempotency-Key": "k"})
    again = await client.post(url, content=b"a", headers={"Idempotency-Key": "k"})
    assert (first.status_code, again.status_code) == (201, 200)


async def test_the_window_is_a_queue_attribute_up_to_a_day(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    queue_id = await create_queue(client, deduplication_window_seconds=3600)
    url = f"/ems/queue/{queue_id}/message"
    headers = {"Idempotency-Key": "k"}
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 201
    clock.advance(3599)
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 200
    clock.advance(1)
    assert (await client.post(url, content=b"a", headers=headers)).status_code == 201
    patched = await client.patch(
        f"/ems/queue/{queue_id}", json={"deduplication_window_seconds": 10}
    )
    assert patched.json()["deduplication_window_seconds"] == 10
    too_long = await client.post("/ems/queue", json={"deduplication_window_seconds": 86401})
    assert_problem(too_long, 400, "invalid-attribute")


async def test_a_retried_publish_reaches_each_subscriber_once(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    queues = [await create_queue(client) for _ in range(2)]
    for queue_id in queues:
        await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}")
    url = f"/ems/topic/{topic_id}/message"
    headers = {"Idempotency-Key": "event-9"}
    first = await client.post(url, content=b"shipped", headers=headers)
    assert first.status_code == 201
    assert first.json()["queues"] == 2
    again = await client.post(url, content=b"shipped", headers=headers)
    assert again.status_code == 200
    assert again.headers["ems-duplicate"] == "true"
    assert again.json() == {
        "message_id": first.json()["message_id"],
        "queues": 0,
        "webhooks": 0,
        "skipped": 0,
        "emails": 0,
    }
    for queue_id in queues:
        assert [m["body"] for m in await receive(client, queue_id, "?max_messages=10")] == [
            "shipped"
        ]
    clock.advance(300)
    assert (await client.post(url, content=b"shipped", headers=headers)).status_code == 201
    # the topic's keys are its own: the same key on a queue is a different key
    queue_url = f"/ems/queue/{queues[0]}/message"
    assert (await client.post(queue_url, content=b"x", headers=headers)).status_code == 201
    bad = await client.post(url, content=b"x", headers={"Idempotency-Key": "a b"})
    assert_problem(bad, 400, "invalid-request")
