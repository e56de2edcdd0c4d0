"""Topic benchmark: publish throughput with queue and webhook subscribers, and push latency.

Starts a webhook endpoint (``webhook_receiver.py`` on uvicorn) and ``ems serve``
(``--webhook-allow-private``: the endpoint is on loopback), then measures:

- push latency: from the start of a publish to the endpoint's handler receiving the push, on an
  otherwise idle machine, with 1 webhook subscriber and with 10 queue + 10 webhook subscribers;
- publish throughput: wrk (64 connections) publishing 256-byte messages to a topic with 10 queue
  and 10 webhook subscribers, and how fast the resulting pushes drain.

    python benchmarks/topics.py [--duration 10] [--messages 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ems.bench.http import RawConnection
from longpoll_latency import percentiles
from queue_core import HERE, SERVER_FLAGS, Server, machine, new_queue, wrk

RECEIVER_PORT = 18011
EMS_PORT = 18012


def create_topic(ems: Server, queues: int, webhooks: int) -> str:
    with httpx.Client(base_url=ems.url) as http:
        topic_id: str = http.post("/ems/topic").json()["topic_id"]
        for _ in range(queues):
            queue_id = new_queue(ems).rsplit("/", 1)[1]
            http.post(f"/ems/topic/{topic_id}/subscription", params={"queue_id": queue_id})
        for n in range(webhooks):
            url = f"http://127.0.0.1:{RECEIVER_PORT}/hook/{topic_id}/{n}"
            http.post(f"/ems/topic/{topic_id}/subscription", params={"url": url})
        deadline = time.monotonic() + 30
        while confirmed(http, topic_id) < webhooks:
            if time.monotonic() > deadline:
                raise RuntimeError("webhook subscriptions were not confirmed")
            time.sleep(0.05)
    return topic_id


def confirmed(http: httpx.Client, topic_id: str) -> int:
    subscriptions = http.get(f"/ems/topic/{topic_id}").json()["subscriptions"]
    return int(subscriptions["http_confirmed"])


async def publish_paced(url: str, count: int, rate: float) -> dict[str, float]:
    """Publish ``count`` messages, one at a time at ``rate``/s; message id -> start time."""
    target = httpx.URL(url)
    connection = RawConnection(target.host, target.port or 80)
    started: dict[str, float] = {}
    for _ in range(count):
        began = time.time()
        status, body = await connection.request("POST", target.path, b"x" * 256)
        assert status == 201, body
        started[json.loads(body)["message_id"]] = began
        await asyncio.sleep(max(0.0, 1 / rate - (time.time() - began)))
    await connection.close()
    return started


def latency(ems: Server, queues: int, webhooks: int, count: int) -> dict[str, Any]:
    topic_id = create_topic(ems, queues, webhooks)
    httpx.delete(f"http://127.0.0.1:{RECEIVER_PORT}/arrivals")
    started = asyncio.run(publish_paced(f"{ems.url}/ems/topic/{topic_id}/message", count, 100))
    deadline = time.monotonic() + 30
    while True:
        arrivals = httpx.get(f"http://127.0.0.1:{RECEIVER_PORT}/arrivals").json()
        if sum(len(arrivals.get(m, [])) for m in started) >= count * webhooks:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("not every push arrived")
        time.sleep(0.1)
    values: list[float] = [
        (at - started[message_id]) * 1000 for message_id in started for at in arrivals[message_id]
    ]
    return {"queues": queues, "webhooks": webhooks, "pushes": len(values), **percentiles(values)}


def throughput(ems: Server, duration: int, connections: int) -> dict[str, Any]:
    topic_id = create_topic(ems, 10, 10)
    started = time.monotonic()
    result = wrk(f"{ems.url}/ems/topic/{topic_id}/message", "send.lua", duration, connections)
    published = round(result.requests_per_second * duration)
    with httpx.Client(base_url=ems.url) as http:
        while http.get(f"/ems/topic/{topic_id}").json()["pending_deliveries"]:
            time.sleep(0.1)
    drained = time.monotonic() - started
    return {
        "publish": result.as_dict(),
        "published": published,
        "pushes": published * 10,
        "seconds_until_all_pushed": round(drained, 2),
        "pushes_per_second": round(published * 10 / drained),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "topics.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-topics-"))
    receiver = Server(
        [sys.executable, "-m", "uvicorn", "webhook_receiver:app", "--app-dir", str(HERE),
         "--port", str(RECEIVER_PORT), "--log-level", "warning", *SERVER_FLAGS],
        RECEIVER_PORT, workdir / "receiver.log", health="/arrivals",
    )  # fmt: skip
    ems = Server(
        [sys.executable, "-m", "ems", "serve", "--port", str(EMS_PORT), "--data-dir",
         str(workdir / "data"), "--webhook-allow-private", "--log-level", "warning",
         "--drain-seconds", "0"],
        EMS_PORT, workdir / "ems.log",
    )  # fmt: skip
    results: dict[str, Any] = {"machine": machine()}
    try:
        results["latency_1_webhook"] = latency(ems, 0, 1, args.messages)
        print("push latency, 1 webhook:", results["latency_1_webhook"])
        results["latency_10_queues_10_webhooks"] = latency(ems, 10, 10, args.messages)
        print("push latency, 10 + 10:", results["latency_10_queues_10_webhooks"])
        results["throughput_10_queues_10_webhooks"] = throughput(
            ems, args.duration, args.connections
        )
        print("publish throughput:", results["throughput_10_queues_10_webhooks"])
    finally:
        ems.stop()
        receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
