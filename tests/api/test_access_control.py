"""Who may connect, how much, who may create and who may administer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ems.config import Settings
from tests.api.conftest import assert_problem, serving

ADMIN = "admin-token-of-thirty-two-characters"
KEY = "ci-key-0123456789abcdef"


async def test_the_allowlist_refuses_other_networks(tmp_path: Path) -> None:
    settings = Settings(allow_cidrs=("127.0.0.0/8", "10.1.0.0/16"))
    async with serving(tmp_path, settings, ("10.1.4.4", 40000)) as (_, allowed):
        assert (await allowed.post("/ems/queue")).status_code == 201
    async with serving(tmp_path, settings, ("192.168.7.7", 40000)) as (_, refused):
        assert_problem(await refused.post("/ems/queue"), 403, "client-not-allowed")
        assert_problem(await refused.get("/metrics"), 403, "client-not-allowed")
        # health probes are answered to anyone who reaches the port
        assert (await refused.get("/healthz")).status_code == 200
        assert (await refused.get("/readyz")).status_code == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    settings = Settings(allow_cidrs=("203.0.113.0/24",), forwarded_allow_ips=("10.0.0.0/8",))
    through_proxy = {"X-Forwarded-For": "198.51.100.9, 203.0.113.5"}
    async with serving(tmp_path, settings, ("10.0.0.2", 40000)) as (_, proxy):
        # the proxy says the client is 203.0.113.5 (the nearest hop it did not add itself)
        assert (await proxy.post("/ems/queue", headers=through_proxy)).status_code == 201
        spoofed = {"X-Forwarded-For": "203.0.113.5, 198.51.100.9"}
        assert_problem(await proxy.post("/ems/queue", headers=spoofed), 403, "client-not-allowed")
    async with serving(tmp_path, settings, ("198.51.100.9", 40000)) as (_, direct):
        # a client that is not a trusted proxy cannot claim an address
        response = await direct.post("/ems/queue", headers={"X-Forwarded-For": "203.0.113.5"})
        assert_problem(response, 403, "client-not-allowed")


async def test_rate_limits_give_429_then_recover(tmp_path: Path) -> None:
    settings = Settings(rate_limit=10, rate_burst=5)
    async with serving(tmp_path, settings) as (_, client):
        statuses = [(await client.get("/ems/crypto/random-key")).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses[5:]
        limited = await client.get("/ems/crypto/random-key")
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert (await client.get("/healthz")).status_code == 200
        await asyncio.sleep(0.35)  # 10 per second refill
        assert (await client.get("/ems/crypto/random-key")).status_code == 200
    async with serving(tmp_path, settings, ("127.0.0.9", 1)) as (_, other):
        assert (await other.get("/ems/crypto/random-key")).status_code == 200


async def test_api_keys_guard_creation_with_quotas(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"keys": [{"name": "ops", "key": "ops-key-abcdefghijklmnop"}]}))
    settings = Settings(api_keys=f"ci:{KEY}:2:1", api_keys_file=keys_file)
    async with serving(tmp_path, settings) as (_, client):
        anonymous = await client.post("/ems/queue")
        assert_problem(anonymous, 401, "unauthorized")
        assert anonymous.headers["www-authenticate"] == "Bearer"
        wrong = await client.post(
            "/ems/queue", headers={"Authorization": "Bearer nope-nope-nope-nope"}
        )
        assert_problem(wrong, 401, "unauthorized")
        auth = {"Authorization": f"Bearer {KEY}"}
        created = [await client.post("/ems/queue", headers=auth) for _ in range(2)]
        assert [r.status_code for r in created] == [201, 201]
        assert_problem(await client.post("/ems/queue", headers=auth), 403, "quota-exceeded")
        assert (await client.post("/ems/topic", headers=auth)).status_code == 201
        assert_problem(await client.post("/ems/topic", headers=auth), 403, "quota-exceeded")
        ops = {"Authorization": "Bearer ops-key-abcdefghijklmnop"}
        assert (await client.post("/ems/queue", headers=ops)).status_code == 201
        # using a queue needs no key: its id is the capability
        queue_id = created[0].json()["queue_id"]
        assert (
            await client.post(f"/ems/queue/{queue_id}/message", content=b"x")
        ).status_code == 201


async def test_the_admin_api_exists_only_with_a_token(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings()) as (_, client):
        assert_problem(await client.get("/ems/admin/queues"), 404, "not-found")
    async with serving(tmp_path, Settings(admin_token=ADMIN)) as (_, client):
        assert_problem(await client.get("/ems/admin/queues"), 401, "unauthorized")
        wrong = {"Authorization": "Bearer " + "x" * 36}
        assert_problem(await client.get("/ems/admin/queues", headers=wrong), 401, "unauthorized")
        auth = {"Authorization": f"Bearer {ADMIN}"}
        queue_id = (await client.post("/ems/queue")).json()["queue_id"]
        await client.post(f"/ems/queue/{queue_id}/message", content=b"x")
        topic_id = (await client.post("/ems/topic")).json()["topic_id"]
        listed = (await client.get("/ems/admin/queues", headers=auth)).json()
        (queue,) = listed["queues"]
        assert queue["stored_messages"] == 1
        assert queue_id not in json.dumps(listed), "the admin sees hashes, never ids"
        (topic,) = (await client.get("/ems/admin/topics", headers=auth)).json()["topics"]
        huge = "/ems/admin/topics?after=52290321967350796827"
        assert_problem(await client.get(huge, headers=auth), 400, "invalid-request")
        assert topic_id not in json.dumps(topic)
        deleted = await client.delete(f"/ems/admin/queues/{queue['id_hash']}", headers=auth)
        assert deleted.status_code == 204
        assert_problem(await client.get(f"/ems/queue/{queue_id}"), 404, "queue-not-found")
        assert (
            await client.delete(f"/ems/admin/topics/{topic['id_hash']}", headers=auth)
        ).status_code == 204
        assert_problem(await client.get(f"/ems/topic/{topic_id}"), 404, "topic-not-found")
        assert_problem(
            await client.delete("/ems/admin/queues/not-hex", headers=auth), 404, "queue-not-found"
        )
