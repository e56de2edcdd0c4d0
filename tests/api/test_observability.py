"""Metrics, readiness, the access log, and refusing uploads without reading them."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.config import Settings
from ems.server.app import EmsApp
from tests.api.conftest import create_queue, serving


async def test_metrics_in_prometheus_format(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    for i in range(3):
        await client.post(f"/ems/queue/{queue_id}/message", content=str(i).encode())
    got = (await client.get(f"/ems/queue/{queue_id}/message?max_messages=2")).json()["messages"]
    await client.delete(f"/ems/queue/{queue_id}/message/{got[0]['receipt_handle']}")
    await client.get(f"/ems/queue/{'A' * 24}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'ems_messages_total{event="sent"} 3' in text
    assert 'ems_messages_total{event="received"} 2' in text
    assert 'ems_messages_total{event="deleted"} 1' in text
    assert (
        'ems_http_requests_total{route="/ems/queue/{id}/message",method="POST",status="201"} 3'
        in text
    )
    assert 'route="/ems/queue/{id}",method="GET",status="404"' in text
    assert re.search(
        r'ems_http_request_duration_seconds_bucket\{route="/ems/queue/\{id\}/message",le="\+Inf"\} \d+',
        text,
    )
    assert re.search(r"ems_queue_messages\{queue=\"[0-9a-f]{16}\"\} 2", text)
    assert "ems_long_polls_waiting 0" in text
    assert queue_id not in text, "metrics never carry an id"
    # the aggregate gauges, database-wide
    assert "ems_queues 1" in text
    assert "ems_stored_messages 2" in text
    assert "ems_webhook_backlog 0" in text
    assert re.search(r"ems_oldest_message_age_seconds \d", text)
    assert re.search(r"ems_commits_total [1-9]", text)
    assert 'ems_problems_total{type="queue-not-found"} 1' in text
    # per-queue series by label are opt-in
    assert "ems_labelled_queue_messages{" not in text


async def test_labelled_queue_series_are_opt_in_and_bounded(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings(metrics_labelled_queues=2)) as (_, client):
        for label in ("billing", "orders", "zebra", None):
            queue_id = await create_queue(client, **({"label": label} if label else {}))
            await client.post(f"/ems/queue/{queue_id}/message", content=b"x")
        text = (await client.get("/metrics")).text
    series = re.findall(
        r'ems_labelled_queue_messages\{label="([^"]+)",queue="[0-9a-f]{16}"\} 1', text
    )
    assert series == ["billing", "orders"]


async def test_readiness_follows_the_lifecycle(app: EmsApp, client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"ready": True}
    app.begin_shutdown()
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (503, {"ready": False})


async def test_the_access_log_shows_routes_not_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(tmp_path, Settings(access_log=True)) as (_, client):
        queue = (await client.post("/ems/queue")).json()
        await client.post(f"/ems/queue/{queue['send_id']}/message?correlation_id=c", content=b"x")
        got = (await client.get(f"/ems/queue/{queue['receive_id']}/message")).json()["messages"]
        await client.delete(f"/ems/queue/{queue['receive_id']}/message/{got[0]['receipt_handle']}")
    lines = [r.getMessage() for r in caplog.records if r.name == "ems.access"]
    assert len(lines) == 4
    assert "POST /ems/queue/{id}/message 201" in lines[1]
    assert "DELETE /ems/queue/{id}/message/{receipt_handle} 204" in lines[3]
    secrets = [queue["queue_id"], queue["send_id"], queue["receive_id"], got[0]["receipt_handle"]]
    assert not any(secret in line for secret in secrets for line in lines)


async def test_an_oversize_upload_is_refused_without_reading_it(
    app: EmsApp, client: httpx.AsyncClient
) -> None:
    queue_id = await create_queue(client, max_message_bytes=65536)
    chunk = b"x" * 16384
    offered = 6400  # 100 MiB, if it were all read
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < offered}

    answer: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/ems/queue/{queue_id}/message",
        "query_string": b"",
        "headers": [(b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
    }
    await app(scope, receive, send)
    assert answer[0]["status"] == 413
    assert read <= 65536 // len(chunk) + 1, f"read {read} chunks of a 64 KiB limit"
    declared = {**scope, "headers": [(b"content-length", b"104857600")]}
    read = 0
    answer.clear()
    await app(declared, receive, send)
    assert answer[0]["status"] == 413
    assert read == 0, "a declared length over the limit is refused before reading anything"


async def test_json_logs(tmp_path: Path) -> None:
    from ems.logs import JsonFormatter

    record = logging.LogRecord("ems.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    line = JsonFormatter().format(record)
    assert '"message": "hello world"' in line
    assert '"level": "info"' in line
