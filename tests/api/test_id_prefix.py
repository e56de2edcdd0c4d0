"""Shards: with an id prefix, every id a server makes names its shard, and still works."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ems.config import Settings, SettingsError
from tests.api.conftest import serving
from tests.webhooks import Receiver


@pytest.fixture
def settings() -> Settings:
    return Settings(id_prefix="s2")


async def test_every_new_id_starts_with_the_prefix(client: httpx.AsyncClient) -> None:
    created = await client.post("/ems/queue")
    assert created.status_code == 201, created.text
    queue = created.json()
    for name in ("queue_id", "send_id", "receive_id"):
        assert queue[name].startswith("s2_")
        assert len(queue[name]) == len("s2_") + 24
    rotated = (await client.post(f"/ems/queue/{queue['queue_id']}/rotate")).json()
    assert rotated["send_id"].startswith("s2_")
    assert rotated["receive_id"].startswith("s2_")
    sent = await client.post(f"/ems/queue/{rotated['send_id']}/message", content=b"routed")
    assert sent.status_code == 201
    received = await client.get(f"/ems/queue/{rotated['receive_id']}/message")
    assert received.json()["messages"][0]["body"] == "routed"
    topic = (await client.post("/ems/topic")).json()
    assert topic["topic_id"].startswith("s2_")


def test_a_prefix_must_be_letters_and_digits() -> None:
    assert Settings.from_env({"EMS_ID_PREFIX": "eu1"}).id_prefix == "eu1"
    for bad in ("s_2", "s-2", "x" * 17, "ü"):
        with pytest.raises(SettingsError, match="EMS_ID_PREFIX"):
            Settings.from_env({"EMS_ID_PREFIX": bad})


async def test_a_confirmation_link_names_the_shard(tmp_path: Path) -> None:
    """A proxy routing by prefix sends /ems/topic/confirm/<token> to the shard that made it."""
    receiver = Receiver(echo_challenge=False)
    try:
        settings = Settings(id_prefix="s2", webhook_allow_private=True)
        async with serving(tmp_path, settings) as (_, client):
            topic_id = (await client.post("/ems/topic")).json()["topic_id"]
            subscribed = await client.post(
                f"/ems/topic/{topic_id}/subscription", params={"url": receiver.url}
            )
            assert subscribed.status_code == 201, subscribed.text
            (confirmation,) = await receiver.arrive(1, kind="SubscriptionConfirmation")
            link = confirmation.json()["confirm_url"]
            assert link.startswith("http://ems.test/ems/topic/confirm/s2_")
            assert confirmation.json()["challenge"] == link.rsplit("/", 1)[1]
            confirmed = await client.get(link.removeprefix("http://ems.test"))
            assert confirmed.json()["status"] == "confirmed"
    finally:
        receiver.close()
