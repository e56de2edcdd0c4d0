"""The topic API over HTTP: topics, subscriptions, publishing, and the SSRF guard at subscribe."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import assert_problem, create_queue


async def create_topic(client: httpx.AsyncClient, **attributes: object) -> str:
    response = await client.post("/ems/topic", json=attributes or None)
    assert response.status_code == 201, response.text
    topic_id: str = response.json()["topic_id"]
    return topic_id


async def test_create_describe_delete(client: httpx.AsyncClient) -> None:
    response = await client.post("/ems/topic")
    assert response.status_code == 201
    document = response.json()
    topic_id = document["topic_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", topic_id)
    assert document["public_id"].startswith("topic-")
    assert topic_id not in document["public_id"]
    assert response.headers["location"] == f"/ems/topic/{topic_id}"
    described = (await client.get(f"/ems/topic/{topic_id}")).json()
    assert described["subscriptions"] == {
        "queue": 0,
        "http_confirmed": 0,
        "http_pending_confirmation": 0,
        "email_confirmed": 0,
        "email_pending_confirmation": 0,
    }
    assert described["max_message_bytes"] == 262_144
    assert (await client.delete(f"/ems/topic/{topic_id}")).status_code == 204
    base = f"/ems/topic/{topic_id}"
    for gone in [
        await client.get(base),
        await client.delete(base),
        await client.post(f"{base}/message", content=b"x"),
        await client.get(f"{base}/subscription"),
        await client.post(f"{base}/subscription?queue_id={await create_queue(client)}"),
    ]:
        assert_problem(gone, 404, "topic-not-found")


async def test_subscribe_queues_and_publish(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client)
    queue_id = await create_queue(client)
    url = f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}"
    subscribed = await client.post(url)
    assert subscribed.status_code == 201
    subscription = subscribed.json()
    assert (subscription["protocol"], subscription["status"]) == ("queue", "confirmed")
    # the queue's reference, never its id: the topic id must not lead to the queue's ids
    queue_ref = (await client.get(f"/ems/queue/{queue_id}")).json()["queue_ref"]
    assert subscription["endpoint"] == queue_ref
    assert queue_id not in subscribed.text
    again = await client.post(url)
    assert again.status_code == 200
    assert again.json()["subscription_id"] == subscription["subscription_id"]
    published = await client.post(
        f"/ems/topic/{topic_id}/message?correlation_id=order-1",
        content=b"order shipped",
        headers={"EMS-Attribute-Region": "eu"},
    )
    assert published.status_code == 201
    assert published.json()["queues"] == 1
    (message,) = (await client.get(f"/ems/queue/{queue_id}/message")).json()["messages"]
    assert message["message_id"] == published.json()["message_id"]
    assert (message["body"], message["correlation_id"]) == ("order shipped", "order-1")
    assert message["attributes"] == {"region": "eu"}


async def test_fan_out_to_a_hundred_queues_in_one_publish(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client)
    queues = [await create_queue(client) for _ in range(100)]
    for queue_id in queues:
        assert (
            await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}")
        ).status_code == 201
    published = await client.post(f"/ems/topic/{topic_id}/message", content=b"broadcast")
    assert published.json()["queues"] == 100
    for queue_id in queues:
        (message,) = (await client.get(f"/ems/queue/{queue_id}/message")).json()["messages"]
        assert message["body"] == "broadcast"


async def test_filter_policies_per_subscription(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client)
    eu, everything = await create_queue(client), await create_queue(client)
    await client.post(
        f"/ems/topic/{topic_id}/subscription?queue_id={eu}",
        json={"filter_policy": {"region": ["eu", "uk"]}},
    )
    await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={everything}")
    for region in ("eu", "us", "uk"):
        await client.post(
            f"/ems/topic/{topic_id}/message", content=region.encode(),
            headers={"EMS-Attribute-Region": region},
        )  # fmt: skip
    await client.post(f"/ems/topic/{topic_id}/message", content=b"no region")
    got = (await client.get(f"/ems/queue/{eu}/message?max_messages=10")).json()["messages"]
    assert [m["body"] for m in got] == ["eu", "uk"]
    assert (
        len(
            (await client.get(f"/ems/queue/{everything}/message?max_messages=10")).json()[
                "messages"
            ]
        )
        == 4
    )
    bad = await client.post(
        f"/ems/topic/{topic_id}/subscription?queue_id={eu}",
        json={"filter_policy": {"region": "eu"}},
    )
    assert_problem(bad, 400, "invalid-request")


async def test_subscription_listing_details_and_unsubscribe(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client)
    queue_id = await create_queue(client)
    created = (await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}")).json()
    listed = (await client.get(f"/ems/topic/{topic_id}/subscription")).json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [created["subscription_id"]]
    base = f"/ems/topic/{topic_id}/subscription/{created['subscription_id']}"
    details = await client.get(base)
    assert details.json()["endpoint"] == listed[0]["endpoint"] == created["endpoint"]
    assert details.json()["endpoint"].startswith("queue:")
    assert queue_id not in details.text
    assert (await client.delete(base)).status_code == 204
    assert_problem(await client.get(base), 404, "subscription-not-found")
    assert_problem(await client.delete(base), 404, "subscription-not-found")
    assert (await client.post(f"/ems/topic/{topic_id}/message", content=b"x")).json()["queues"] == 0


async def test_subscribe_needs_exactly_one_endpoint(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client)
    queue_id = await create_queue(client)
    base = f"/ems/topic/{topic_id}/subscription"
    assert_problem(await client.post(base), 400, "invalid-request")
    assert_problem(
        await client.post(f"{base}?queue_id={queue_id}&url=https://a.example/"),
        400,
        "invalid-request",
    )
    assert_problem(await client.post(f"{base}?queue_id={'A' * 24}"), 404, "queue-not-found")
    assert_problem(await client.post(f"{base}?url=ftp://a.example/"), 400, "invalid-webhook-url")
    assert_problem(
        await client.post(f"{base}?queue_id={queue_id}", json={"envelope": True}),
        400,
        "invalid-request",
    )


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hook", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
     "http://[::1]/", "http://localhost:8080/x", "https://100.64.1.1/"],
)  # fmt: skip
async def test_the_ssrf_guard_refuses_private_destinations(
    client: httpx.AsyncClient, url: str
) -> None:
    topic_id = await create_topic(client)
    response = await client.post(f"/ems/topic/{topic_id}/subscription", params={"url": url})
    problem = assert_problem(response, 400, "forbidden-webhook-url")
    assert "not a public address" in problem["detail"]
    # never where the host led: that would answer DNS queries about EMS's own network
    for address in ("127.0.0.1", "10.0.0.1", "169.254", "::1", "100.64"):
        assert address not in problem["detail"]
    listed = (await client.get(f"/ems/topic/{topic_id}/subscription")).json()
    assert listed == {"subscriptions": []}


async def test_publish_limits(client: httpx.AsyncClient) -> None:
    topic_id = await create_topic(client, max_message_bytes=1024)
    assert_problem(
        await client.post(f"/ems/topic/{topic_id}/message", content=b"x" * 1025),
        413,
        "message-too-large",
    )
    small = await create_queue(client, max_message_bytes=1024)
    big_topic = await create_topic(client)
    subscription = await client.post(f"/ems/topic/{big_topic}/subscription?queue_id={small}")
    # a subscribed queue that cannot take a message is skipped, and its subscription says why
    published = await client.post(f"/ems/topic/{big_topic}/message", content=b"x" * 2000)
    assert published.status_code == 201
    assert published.json() | {"message_id": "m"} == {
        "message_id": "m",
        "queues": 0,
        "webhooks": 0,
        "skipped": 1,
        "emails": 0,
    }
    details = await client.get(
        f"/ems/topic/{big_topic}/subscription/{subscription.json()['subscription_id']}"
    )
    assert details.json()["deliveries"]["failed"] == 1
    assert "accepts at most 1024" in details.json()["deliveries"]["last_error"]
    assert_problem(
        await client.post("/ems/topic", json={"max_message_bytes": 10}), 400, "invalid-attribute"
    )


async def test_a_subscribe_naming_a_missing_queue_says_which_parameter(
    client: httpx.AsyncClient,
) -> None:
    topic_id = await create_topic(client)
    queue_id = await create_queue(client)
    assert (await client.delete(f"/ems/queue/{queue_id}")).status_code == 204
    subscriptions = f"/ems/topic/{topic_id}/subscription"
    problem = assert_problem(
        await client.post(f"{subscriptions}?queue_id={queue_id}"), 404, "queue-not-found"
    )
    assert problem["parameter"] == "queue_id"
    assert problem["detail"].startswith("queue_id names no queue")
    problem = assert_problem(
        await client.post(
            f"{subscriptions}?url=https://hooks.example.com/ems",
            json={"dead_letter_queue_id": queue_id},
        ),
        400,
        "dead-letter-queue-not-found",
    )
    assert problem["parameter"] == "dead_letter_queue_id"
    assert "dead_letter_queue_id names no queue" in problem["detail"]
    assert queue_id not in problem["detail"], "an id is never echoed back"
    assert (await client.get(subscriptions)).json() == {"subscriptions": []}


async def test_a_bad_confirmation_link_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.get("/ems/topic/confirm/" + "x" * 32), 404, "confirmation-not-found"
    )
    assert_problem(await client.get("/ems/topic/confirm/short"), 404, "confirmation-not-found")
