"""The admin API the console uses, on both backends: overview, the sorted and filtered queue
table, a queue's page (peek, purge, delete), a topic's subscriptions (retry now, remove)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.config import Settings
from tests.api.conftest import assert_problem, create_queue, serving
from tests.webhooks import Receiver, Reply

ADMIN = "admin-token-of-thirty-two-characters"
AUTH = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def settings() -> Settings:
    # webhooks to a receiver on loopback, pushed at once
    return Settings(admin_token=ADMIN, webhook_allow_private=True, webhook_skip_confirmation=True)


def id_hash(queue_id: str) -> str:
    return hashlib.sha256(queue_id.encode()).hexdigest()


async def admin(client: httpx.AsyncClient, path: str, method: str = "GET") -> Any:
    response = await client.request(method, "/ems/admin" + path, headers=AUTH)
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


async def test_the_queue_table_sorts_filters_pages_and_counts(client: httpx.AsyncClient) -> None:
    labelled = {}
    for name in ("billing", "orders-eu", "orders-us"):
        labelled[name] = await create_queue(client, label=name)
    dlq = await create_queue(client)
    await client.patch(
        f"/ems/queue/{labelled['orders-eu']}",
        json={"dead_letter": {"queue_id": dlq, "max_receives": 3}},
    )
    for body in ("a", "b", "c"):
        await client.post(f"/ems/queue/{labelled['orders-eu']}/message", content=body)
    await client.get(f"/ems/queue/{labelled['orders-eu']}/message")

    table = await admin(client, "/queue-table?sort=messages&order=desc")
    assert table["total"] == 4
    first = table["queues"][0]
    assert first["label"] == "orders-eu"
    assert first["id_hash"] == id_hash(labelled["orders-eu"])
    assert (first["visible"], first["in_flight"], first["delayed"]) == (2, 1, 0)
    assert first["stored_messages"] == 3
    assert first["dead_letter_hash"] == id_hash(dlq)
    assert first["oldest_message_age_seconds"] == 0

    by_label = await admin(client, "/queue-table?sort=label&filter=ORDERS")
    assert [q["label"] for q in by_label["queues"]] == ["orders-eu", "orders-us"]
    assert by_label["total"] == 2
    prefix = id_hash(dlq)[:6]
    assert [
        q["id_hash"] for q in (await admin(client, f"/queue-table?filter={prefix}"))["queues"]
    ] == [id_hash(dlq)]
    second_page = await admin(client, "/queue-table?sort=label&limit=2&offset=2")
    assert [q["label"] for q in second_page["queues"]] == ["orders-us", None]

    for bad in ("sort=age", "order=up", "limit=501", "offset=-1", "filter=" + "x" * 81):
        response = await client.get(f"/ems/admin/queue-table?{bad}", headers=AUTH)
        assert_problem(response, 400, "invalid-request")

    ids = [*labelled.values(), dlq]
    assert not any(i in json.dumps(table) for i in ids), "the admin sees hashes, never ids"


async def test_a_queues_page_peek_purge_and_delete(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client, label="jobs")
    await client.post(f"/ems/queue/{queue_id}/message", content="first job")
    await client.post(f"/ems/queue/{queue_id}/message", content="second job")
    path = f"/queues/{id_hash(queue_id)}"
    detail = await admin(client, path)
    assert detail["label"] == "jobs"
    assert detail["visible"] == 2
    assert detail["visibility_timeout"] == 30
    assert queue_id not in json.dumps(detail)

    peeked = await admin(client, path + "/messages?limit=1")
    assert [m["body"] for m in peeked["messages"]] == ["first job"]
    rest = await admin(client, path + f"/messages?after={peeked['next']}")
    assert [m["body"] for m in rest["messages"]] == ["second job"]
    # a peek changes nothing
    assert (await admin(client, path))["visible"] == 2

    await admin(client, path + "/purge", "POST")
    assert (await admin(client, path))["stored_messages"] == 0
    await admin(client, path, "DELETE")
    assert_problem(await client.get("/ems/admin" + path, headers=AUTH), 404, "queue-not-found")
    assert (await client.get(f"/ems/queue/{queue_id}")).status_code == 404


async def test_a_send_ids_hash_names_no_queue_for_the_admin(client: httpx.AsyncClient) -> None:
    created = (await client.post("/ems/queue")).json()
    response = await client.get(f"/ems/admin/queues/{id_hash(created['send_id'])}", headers=AUTH)
    assert_problem(response, 404, "queue-not-found")


async def test_the_overview_counts_the_whole_database(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    await client.post(f"/ems/queue/{queue_id}/message", content="x")
    await client.get("/ems/queue/not-a-queue-id-at-all-xxxx")
    overview = await admin(client, "/overview")
    assert overview["totals"]["queues"] == 1
    assert overview["totals"]["stored_messages"] == 1
    assert overview["counters"]["messages"]["sent"] == 1
    assert overview["counters"]["problems"]["queue-not-found"] >= 1
    assert overview["counters"]["commits"] >= 1
    assert overview["storage_bytes"] > 0
    assert overview["backend"] in ("sqlite", "postgresql")
    if overview["backend"] == "postgresql":
        assert overview["database"].startswith("PostgreSQL at ")


async def test_a_failing_webhook_shows_its_error_and_can_be_retried_and_removed(
    client: httpx.AsyncClient,
) -> None:
    receiver = Receiver()
    receiver.default = Reply(status=503, body=b"down for maintenance")
    try:
        topic_id = (await client.post("/ems/topic")).json()["topic_id"]
        await client.post(
            f"/ems/topic/{topic_id}/subscription?queue_id={await create_queue(client)}"
        )
        subscribed = await client.post(
            f"/ems/topic/{topic_id}/subscription", params={"url": receiver.url}
        )
        assert subscribed.status_code == 201, subscribed.text
        await client.post(f"/ems/topic/{topic_id}/message", content="hello")
        topic_hash = id_hash(topic_id)

        async def failed() -> dict[str, Any] | None:
            detail = await admin(client, f"/topics/{topic_hash}")
            webhook = next(s for s in detail["subscription_list"] if s["protocol"] == "http")
            return webhook if webhook["deliveries"]["last_error"] else None

        webhook = await until(failed)
        assert "503" in webhook["deliveries"]["last_error"]
        assert webhook["next_attempt_at"] is not None
        assert "signing_secret" not in webhook
        overview = await admin(client, "/overview")
        assert overview["totals"]["webhook_backlog"] == 1
        assert overview["totals"]["failing_subscriptions"] == 1
        (listed,) = (await admin(client, "/topics"))["topics"]
        assert (listed["webhook_backlog"], listed["failing_subscriptions"]) == (1, 1)

        sid = webhook["subscription_id"]
        retried = await admin(client, f"/topics/{topic_hash}/subscriptions/{sid}/retry", "POST")
        assert retried["due_now"] in (0, 1)  # 0: the dispatcher was already retrying it
        await admin(client, f"/topics/{topic_hash}/subscriptions/{sid}", "DELETE")
        remaining = (await admin(client, f"/topics/{topic_hash}"))["subscription_list"]
        assert [s["protocol"] for s in remaining] == ["queue"]
        missing = await client.post(
            f"/ems/admin/topics/{topic_hash}/subscriptions/{sid}/retry", headers=AUTH
        )
        assert_problem(missing, 404, "subscription-not-found")
    finally:
        receiver.close()


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := await check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
    return found


async def test_every_admin_route_needs_the_token(client: httpx.AsyncClient) -> None:
    for path in ("/overview", "/queue-table", "/queues/" + "0" * 64, "/topics/" + "0" * 64):
        assert_problem(await client.get("/ems/admin" + path), 401, "unauthorized")
    console = await client.get("/ems/admin/console")
    assert console.status_code == 200
    assert "default-src 'none'" in console.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ems/admin/queue-table?filter=%00"),
        ("GET", "/ems/admin/queue-table?filter=%25_%5C"),
        ("GET", "/ems/admin/queue-table?filter=%ED%A0%80"),
        ("GET", "/ems/admin/queue-table?filter=abc&offset=99999999"),
        ("GET", "/ems/admin/queue-table?sort=label&order=desc&offset=1e3"),
        ("GET", "/ems/admin/queues/%00/messages?after=x"),
        ("GET", "/ems/admin/queues/" + "ab" * 32 + "/messages?limit=0"),
        ("POST", "/ems/admin/queues/" + "0" * 64 + "/purge"),
        ("GET", "/ems/admin/topics/" + "0" * 63),
        ("POST", "/ems/admin/topics/" + "0" * 64 + "/subscriptions/%00/retry"),
        ("DELETE", "/ems/admin/topics/" + "0" * 64 + "/subscriptions/" + "x" * 300),
        ("PUT", "/ems/admin/overview"),
        ("GET", "/ems/admin/console/console.html"),
        ("GET", "/ems/admin/console/..%2Fems.css"),
    ],
)
async def test_odd_admin_requests_get_a_problem_never_a_server_error(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    path = path.replace("0" * 64, id_hash(topic_id)) if "/topics/" in path else path
    response = await client.request(method, path, headers=AUTH)
    assert 200 <= response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_console_stays_when_the_playground_is_off(tmp_path: Path) -> None:
    settings = Settings(admin_token=ADMIN, playground=False)
    async with serving(tmp_path, settings) as (_, client):
        assert (await client.get("/")).status_code == 404
        page = await client.get("/ems/admin/console")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        for name in (
            "console.js",
            "console-base.js",
            "console-queues.js",
            "charts.js",
            "console.css",
        ):
            assert (await client.get(f"/ems/admin/console/{name}")).status_code == 200
        assert_problem(await client.get("/ems/admin/console/docs.js"), 404, "not-found")


async def test_the_admin_redrives_a_dead_letter_queue_by_hash(client: httpx.AsyncClient) -> None:
    dead = await create_queue(client, label="orders-dead")
    source = await create_queue(client, dead_letter={"queue_id": dead, "max_receives": 1})
    await client.post(f"/ems/queue/{source}/message", content=b"poison")
    for _ in range(2):  # the second receive moves it to the dead-letter queue
        await client.get(f"/ems/queue/{source}/message?visibility_timeout=0")
    assert (await client.get(f"/ems/queue/{dead}")).json()["messages_visible"] == 1
    path = f"/queues/{id_hash(dead)}/redrive"
    assert await admin(client, path) == {"tasks": []}
    # a queue nothing dead-letters into has nothing to redrive
    refused = await client.post(f"/ems/admin/queues/{id_hash(source)}/redrive", headers=AUTH)
    assert_problem(refused, 400, "not-a-dead-letter-queue")
    bad = await client.post(
        "/ems/admin" + path, headers=AUTH, json={"destination_id_hash": "not-a-hash"}
    )
    assert_problem(bad, 404, "queue-not-found")

    started = await client.post("/ems/admin" + path, headers=AUTH)
    assert started.status_code == 201, started.text
    assert started.json()["destination_id_hash"] is None
    assert started.json()["messages_to_move"] == 1

    async def completed() -> dict[str, Any] | None:
        (task,) = (await admin(client, path))["tasks"]
        return task if task["status"] == "COMPLETED" else None

    task = await until(completed)
    assert task["messages_moved"] == 1
    assert (await client.get(f"/ems/queue/{source}")).json()["messages_visible"] == 1
    nothing = await client.delete("/ems/admin" + path, headers=AUTH)
    assert_problem(nothing, 404, "move-task-not-found")
    assert dead not in json.dumps(task)
    assert source not in json.dumps(task)
