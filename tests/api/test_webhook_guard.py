"""The SSRF guard at delivery time, with private addresses not allowed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from ems.config import Settings
from tests.webhooks import Receiver, Reply


@pytest.fixture
def settings() -> Settings:
    # only 127.0.0.2 is let through: it plays a public endpoint; 127.0.0.1 stays forbidden
    return Settings(webhook_allow_nets=("127.0.0.2/32",))


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    allowed, forbidden = Receiver("127.0.0.2"), Receiver("127.0.0.1")
    yield allowed, forbidden
    allowed.close()
    forbidden.close()


async def test_a_redirect_to_a_private_address_is_not_followed(
    client: httpx.AsyncClient, receivers: tuple[Receiver, Receiver]
) -> None:
    allowed, forbidden = receivers
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    refused = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"url": forbidden.url}
    )
    assert refused.status_code == 400
    subscribed = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"url": allowed.url}
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription_id = subscribed.json()["subscription_id"]
    await allowed.arrive(1, kind="SubscriptionConfirmation")
    for _ in range(100):
        details = await client.get(f"/ems/topic/{topic_id}/subscription/{subscription_id}")
        if details.json()["status"] == "confirmed":
            break
        await asyncio.sleep(0.01)
    allowed.default = Reply(302, b"", headers={"Location": forbidden.url + "/metadata"})
    await client.post(f"/ems/topic/{topic_id}/message", content=b"secret-free payload")
    await allowed.arrive(1)
    await asyncio.sleep(0.3)
    assert forbidden.requests == [], "the redirect was not followed"
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{subscription_id}")).json()
    assert details["deliveries"]["failed"] == 1
    assert "redirects are not followed" in details["deliveries"]["last_error"]
