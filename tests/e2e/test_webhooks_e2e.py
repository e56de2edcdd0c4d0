"""Pushes survive a crash: kill -9 with deliveries in flight and queued; after a restart every
published message reaches the endpoint."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.server import EmsServer
from tests.webhooks import Receiver, Reply


def test_pending_pushes_are_delivered_after_kill_9(tmp_path: Path) -> None:
    receiver = Receiver()
    server = EmsServer(tmp_path / "data").start("--webhook-allow-private")
    try:
        with httpx.Client(base_url=server.url) as http:
            topic_id = http.post("/ems/topic").json()["topic_id"]
            subscription = http.post(
                f"/ems/topic/{topic_id}/subscription", params={"url": receiver.url}
            ).json()
            details = f"/ems/topic/{topic_id}/subscription/{subscription['subscription_id']}"
            deadline = time.monotonic() + 10
            while http.get(details).json()["status"] != "confirmed":
                assert time.monotonic() < deadline
                time.sleep(0.02)

            receiver.default = Reply(200, delay=10)  # the endpoint hangs: pushes stay in flight
            published = {
                http.post(f"/ems/topic/{topic_id}/message", content=f"event {i}".encode()).json()[
                    "message_id"
                ]
                for i in range(40)
            }
            deadline = time.monotonic() + 5
            while len(receiver.in_progress) < 10:  # the lane's concurrency: 30 wait in the outbox
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert http.get(f"/ems/topic/{topic_id}").json()["pending_deliveries"] == 40
            server.kill9()

        receiver.default = Reply(200)
        server.start("--webhook-allow-private")
        with httpx.Client(base_url=server.url) as http:
            deadline = time.monotonic() + 20
            while True:
                delivered = {r.headers["ems-message-id"] for r in receiver.notifications()}
                if published <= delivered:
                    break
                assert time.monotonic() < deadline, f"{len(published - delivered)} never delivered"
                time.sleep(0.05)
            while http.get(f"/ems/topic/{topic_id}").json()["pending_deliveries"]:
                assert time.monotonic() < deadline, "the outbox did not drain"
                time.sleep(0.05)
    finally:
        server.stop()
        receiver.close()
