"""Webhook push end to end in one process: a real EMS app and real HTTP receivers on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from ems.config import Settings
from ems.core.clock import ManualClock
from ems.server.app import EmsApp
from tests.api.conftest import create_queue
from tests.webhooks import Receiver, Reply


@pytest.fixture
def settings() -> Settings:
    return Settings(webhook_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def fast(app: EmsApp) -> EmsApp:
    """The app, scanning for due retries every 20 ms instead of every second."""
    app.dispatcher.scan_interval = 0.02
    return app


async def until(check: Callable[[], Any], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def subscribe(
    client: httpx.AsyncClient, topic_id: str, url: str, **options: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"url": url}, json=options or None
    )
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    assert document["status"] == "pending_confirmation"
    assert document["signing_secret"].startswith("whsec_")
    return document


async def confirmed(client: httpx.AsyncClient, topic_id: str, subscription_id: str) -> bool:
    details = await client.get(f"/ems/topic/{topic_id}/subscription/{subscription_id}")
    return bool(details.json()["status"] == "confirmed")


async def after_attempts(
    client: httpx.AsyncClient, topic_id: str, subscription_id: str, count: int, clock: ManualClock
) -> None:
    """Once EMS has recorded ``count`` attempts, move the clock past any backoff."""

    async def recorded() -> bool:
        details = await client.get(f"/ems/topic/{topic_id}/subscription/{subscription_id}")
        return bool(details.json()["deliveries"]["attempts"] >= count)

    await until(recorded)
    clock.advance(10)


async def new_topic(client: httpx.AsyncClient) -> tuple[str, str]:
    document = (await client.post("/ems/topic")).json()
    return document["topic_id"], document["public_id"]


async def test_confirmation_by_echo_then_signed_notifications(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    topic_id, public_id = await new_topic(client)
    subscription = await subscribe(client, topic_id, receiver.url + "/hook?team=7")
    (request,) = await receiver.arrive(1, kind="SubscriptionConfirmation")
    confirmation = request.json()
    assert confirmation["type"] == "SubscriptionConfirmation"
    assert confirmation["subscription_id"] == subscription["subscription_id"]
    assert confirmation["topic_id"] == public_id, "endpoints learn the public id only"
    assert confirmation["confirm_url"].endswith("/ems/topic/confirm/" + confirmation["challenge"])
    assert request.path == "/hook?team=7"
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))

    published = await client.post(
        f"/ems/topic/{topic_id}/message?correlation_id=req-9",
        content=b'{"seat": 14}',
        headers={"Content-Type": "application/json", "EMS-Attribute-Class": "cs61a"},
    )
    assert published.json()["webhooks"] == 1
    (push,) = await receiver.arrive(1)
    assert push.body == b'{"seat": 14}'
    headers = push.headers
    assert headers["content-type"] == "application/json"
    assert headers["ems-message-id"] == published.json()["message_id"]
    assert headers["ems-topic-id"] == public_id
    assert topic_id not in json.dumps(headers), "the topic capability never leaves the server"
    assert headers["ems-subscription-id"] == subscription["subscription_id"]
    assert headers["ems-correlation-id"] == "req-9"
    assert headers["ems-attribute-class"] == "cs61a"
    assert headers["ems-delivery-attempt"] == "1"
    assert int(headers["webhook-timestamp"]) == pytest.approx(time.time(), abs=10)
    verified = Webhook(subscription["signing_secret"]).verify(push.body, headers)
    assert verified == {"seat": 14}


async def test_confirmation_through_the_link(
    client: httpx.AsyncClient, app: EmsApp, receiver: Receiver
) -> None:
    receiver.echo_challenge = False  # answers 200 "ok": not a confirmation
    topic_id, _ = await new_topic(client)
    subscription = await subscribe(client, topic_id, receiver.url)
    (request,) = await receiver.arrive(1, kind="SubscriptionConfirmation")
    await asyncio.sleep(0.1)
    assert not await confirmed(client, topic_id, subscription["subscription_id"])
    assert (await client.post(f"/ems/topic/{topic_id}/message", content=b"early")).json()[
        "webhooks"
    ] == 0
    link = httpx.URL(request.json()["confirm_url"])
    answer = await client.get(link.raw_path.decode())
    assert answer.json() == {
        "subscription_id": subscription["subscription_id"],
        "status": "confirmed",
    }
    assert await confirmed(client, topic_id, subscription["subscription_id"])
    await client.post(f"/ems/topic/{topic_id}/message", content=b"now")
    (push,) = await receiver.arrive(1)
    assert push.body == b"now"
    assert len(receiver.requests) == 2, "nothing was pushed before confirmation"


async def test_an_unconfirmed_endpoint_receives_nothing(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.echo_challenge = False
    topic_id, _ = await new_topic(client)
    await subscribe(client, topic_id, receiver.url)
    await receiver.arrive(1, kind="SubscriptionConfirmation")
    for i in range(5):
        await client.post(f"/ems/topic/{topic_id}/message", content=str(i).encode())
    await asyncio.sleep(0.5)
    assert receiver.notifications() == []


async def test_a_flaky_endpoint_gets_the_message_once_on_attempt_three(
    client: httpx.AsyncClient, fast: EmsApp, receiver: Receiver, clock: ManualClock
) -> None:
    topic_id, _ = await new_topic(client)
    subscription = await subscribe(client, topic_id, receiver.url, min_retry_seconds=1)
    await receiver.arrive(1, kind="SubscriptionConfirmation")
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))
    receiver.script = [Reply(500), Reply(500), Reply(200)]
    await client.post(f"/ems/topic/{topic_id}/message", content=b"retry me")
    for count in (1, 2):
        await after_attempts(client, topic_id, subscription["subscription_id"], count, clock)
    pushes = await receiver.arrive(3)
    await asyncio.sleep(0.2)
    assert len(receiver.notifications()) == 3
    assert [p.headers["ems-delivery-attempt"] for p in pushes] == ["1", "2", "3"]
    assert len({p.headers["webhook-id"] for p in pushes}) == 1, "the same webhook-id on retries"
    details = (
        await client.get(f"/ems/topic/{topic_id}/subscription/{subscription['subscription_id']}")
    ).json()
    assert details["deliveries"]["delivered"] == 1
    assert details["deliveries"]["attempts"] == 3
    assert details["deliveries"]["pending"] == 0


async def test_a_dead_endpoint_ends_in_the_dead_letter_queue(
    client: httpx.AsyncClient, fast: EmsApp, receiver: Receiver, clock: ManualClock
) -> None:
    topic_id, _ = await new_topic(client)
    dlq = await create_queue(client)
    subscription = await subscribe(
        client,
        topic_id,
        receiver.url,
        max_attempts=3,
        min_retry_seconds=1,
        dead_letter_queue_id=dlq,
    )
    assert "dead_letter_queue_id" not in subscription, "the subscription never shows a queue id"
    dlq_ref = (await client.get(f"/ems/queue/{dlq}")).json()["queue_ref"]
    assert subscription["dead_letter_queue"] == dlq_ref
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))
    receiver.default = Reply(503, b"down")
    await client.post(f"/ems/topic/{topic_id}/message?correlation_id=k", content=b"\x00\xffbinary")
    for count in (1, 2):
        await after_attempts(client, topic_id, subscription["subscription_id"], count, clock)

    async def in_dlq() -> bool:
        return bool((await client.get(f"/ems/queue/{dlq}")).json()["messages_visible"] == 1)

    await until(in_dlq)
    (failure,) = (await client.get(f"/ems/queue/{dlq}/message")).json()["messages"]
    envelope = json.loads(failure["body"])
    assert envelope["type"] == "DeliveryFailure"
    assert envelope["attempts"] == 3
    assert envelope["last_status"] == 503
    assert base64.b64decode(envelope["message"]["body"]) == b"\x00\xffbinary"
    assert failure["correlation_id"] == "k"
    details = (
        await client.get(f"/ems/topic/{topic_id}/subscription/{subscription['subscription_id']}")
    ).json()
    assert details["deliveries"]["failed"] == 1
    assert details["deliveries"]["last_error"].startswith("HTTP 503")
    assert len(receiver.notifications()) == 3


async def test_a_client_error_is_not_retried(
    client: httpx.AsyncClient, fast: EmsApp, receiver: Receiver, clock: ManualClock
) -> None:
    topic_id, _ = await new_topic(client)
    subscription = await subscribe(client, topic_id, receiver.url, min_retry_seconds=1)
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))
    receiver.default = Reply(400, b"bad payload")
    await client.post(f"/ems/topic/{topic_id}/message", content=b"x")
    await after_attempts(client, topic_id, subscription["subscription_id"], 1, clock)
    clock.advance(3600)
    await asyncio.sleep(0.3)
    assert len(receiver.notifications()) == 1
    details = (
        await client.get(f"/ems/topic/{topic_id}/subscription/{subscription['subscription_id']}")
    ).json()
    assert details["deliveries"]["failed"] == 1


async def test_a_hanging_endpoint_does_not_delay_a_healthy_one(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hanging = Receiver()
    try:
        topic_id, _ = await new_topic(client)
        slow = await subscribe(client, topic_id, hanging.url, timeout_seconds=3)
        quick = await subscribe(client, topic_id, receiver.url)
        for subscription in (slow, quick):
            await until(lambda s=subscription: confirmed(client, topic_id, s["subscription_id"]))  # type: ignore[misc]
        hanging.default = Reply(200, delay=2.5)
        for i in range(30):  # more than the hanging lane's concurrency
            started = time.monotonic()
            await client.post(f"/ems/topic/{topic_id}/message", content=str(i).encode())
        await receiver.arrive(30, seconds=2)
        assert time.monotonic() - started < 1.5
        assert len(hanging.notifications()) == 0, "the hanging endpoint has not answered yet"
    finally:
        hanging.close()


async def test_the_envelope_option(client: httpx.AsyncClient, receiver: Receiver) -> None:
    topic_id, public_id = await new_topic(client)
    subscription = await subscribe(client, topic_id, receiver.url, envelope=True)
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))
    published = await client.post(
        f"/ems/topic/{topic_id}/message", content=b"plain text", headers={"EMS-Attribute-A": "b"}
    )
    (push,) = await receiver.arrive(1)
    assert push.headers["content-type"] == "application/json"
    envelope = push.json()
    assert envelope["type"] == "Notification"
    assert envelope["message_id"] == published.json()["message_id"]
    assert (envelope["topic_id"], envelope["body"], envelope["attributes"]) == (
        public_id,
        "plain text",
        {"a": "b"},
    )


async def test_webhook_filter_policy(client: httpx.AsyncClient, receiver: Receiver) -> None:
    topic_id, _ = await new_topic(client)
    subscription = await subscribe(
        client, topic_id, receiver.url, filter_policy={"kind": ["seat-freed"]}
    )
    await until(lambda: confirmed(client, topic_id, subscription["subscription_id"]))
    for kind in ("enrolled", "seat-freed", "dropped"):
        await client.post(
            f"/ems/topic/{topic_id}/message",
            content=kind.encode(),
            headers={"EMS-Attribute-Kind": kind},
        )
    await receiver.arrive(1)
    await asyncio.sleep(0.2)
    assert [p.body for p in receiver.notifications()] == [b"seat-freed"]
