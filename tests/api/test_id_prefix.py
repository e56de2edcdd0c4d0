"""Shards: with an id prefix, every id a server makes names its shard, and still works."""

from __future__ import annotations

import httpx
import pytest

from ems.config import Settings, SettingsError


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
