"""On a trusted network an operator may skip webhook confirmation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ems.config import Settings
from tests.webhooks import Receiver


@pytest.fixture
def settings() -> Settings:
    return Settings(webhook_allow_private=True, webhook_skip_confirmation=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(echo_challenge=False)
    yield receiver
    receiver.close()


async def test_subscriptions_start_confirmed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    subscribed = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"url": receiver.url}
    )
    assert subscribed.json()["status"] == "confirmed"
    await client.post(f"/ems/topic/{topic_id}/message", content=b"straight away")
    (push,) = await receiver.arrive(1)
    assert push.body == b"straight away"
    assert [r.kind for r in receiver.requests] == ["Notification"], "no confirmation request"
