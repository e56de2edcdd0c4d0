"""Long-poll wake-up latency: how long from a send's acknowledgement to the waiting receiver.

Holds WAITERS long polls open on one queue (each on its own connection), then repeatedly sends
one message and times until some waiter has it; the receiver deletes nothing (visibility is long)
and re-arms its poll. Prints p50/p90/p99/max in milliseconds as JSON.

    python benchmarks/longpoll_latency.py --url http://127.0.0.1:8080 [--trials 300] [--waiters 10]
        [--send-url http://127.0.0.1:8081]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from ems.bench.http import RawConnection


async def measure(
    url: str, trials: int, waiters: int, *, send_url: str | None = None
) -> dict[str, Any]:
    """Waiters poll ``url``; the sender sends to ``send_url`` (default: the same server), which
    may be another node on the same database."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    send_parts = urlsplit(send_url or url)
    send_host, send_port = send_parts.hostname or "127.0.0.1", send_parts.port or 80
    setup = RawConnection(host, port)
    _, body = await setup.request("POST", "/ems/queue")
    queue = "/ems/queue/" + json.loads(body)["queue_id"]
    arrivals: asyncio.Queue[float] = asyncio.Queue()

    async def waiter() -> None:
        connection = RawConnection(host, port)
        while True:
            status, body = await connection.request(
                "GET", f"{queue}/message?wait_seconds=20&visibility_timeout=3600"
            )
            if status == 200 and json.loads(body)["messages"]:
                arrivals.put_nowait(time.perf_counter())

    tasks = [asyncio.create_task(waiter()) for _ in range(waiters)]
    await asyncio.sleep(0.5)  # let every poll park
    sender = RawConnection(send_host, send_port)
    latencies = []  # from the send's acknowledgement to the receiver holding the message
    round_trips = []  # from the start of the send request
    for _ in range(trials):
        started = time.perf_counter()
        status, _ = await sender.request("POST", f"{queue}/message", b"ping")
        acknowledged = time.perf_counter()
        assert status == 201
        received = await asyncio.wait_for(arrivals.get(), 10)
        latencies.append((received - acknowledged) * 1000)
        round_trips.append((received - started) * 1000)
        await asyncio.sleep(0.01)  # the woken waiter re-arms
    for task in tasks:
        task.cancel()
    return {
        "trials": trials,
        "waiters": waiters,
        "after_ack": percentiles(latencies),
        "from_send_start": percentiles(round_trips),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--waiters", type=int, default=10)
    parser.add_argument("--send-url", help="send through this node instead (same database)")
    args = parser.parse_args()
    result = measure(args.url, args.trials, args.waiters, send_url=args.send_url)
    print(json.dumps(asyncio.run(result)))


if __name__ == "__main__":
    main()
