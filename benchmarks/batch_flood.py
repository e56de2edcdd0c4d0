"""How long /healthz waits while clients flood a server with 16 MiB batches of tiny entries.

Each flooding client posts, over and over, the largest batch body a request may carry (16 MiB)
made of about 1.3 million ``{"body":"x"}`` entries; the server must refuse each with 400
``too-many-entries``. Meanwhile one client times ``GET /healthz`` every 50 ms. Prints the
latency percentiles in milliseconds, and how many floods were answered, as JSON.

    python benchmarks/batch_flood.py --url http://127.0.0.1:8080 [--clients 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

import httpx

ENTRY = b'{"body":"x"},'
FLOOD = b'{"messages":[' + ENTRY * ((16 * 1024 * 1024 - 40) // len(ENTRY)) + b'{"body":"x"}]}'


def measure(url: str, clients: int, seconds: float) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=60) as http:
        send_id = http.post("/ems/queue").json()["send_id"]
    stop = time.monotonic() + seconds
    statuses: list[int] = []

    def flood() -> None:
        with httpx.Client(base_url=url, timeout=60) as attacker:
            while time.monotonic() < stop:
                answer = attacker.post(f"/ems/queue/{send_id}/messages", content=FLOOD)
                statuses.append(answer.status_code)

    threads = [threading.Thread(target=flood) for _ in range(clients)]
    for thread in threads:
        thread.start()
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as http:
        time.sleep(0.5)  # let the floods start
        while time.monotonic() < stop:
            started = time.perf_counter()
            http.get("/healthz").raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "clients": clients,
        "floods_answered": len(statuses),
        "flood_statuses": sorted(set(statuses)),
        "healthz_ms": {
            "n": len(latencies),
            "p50": round(statistics.median(latencies), 1),
            "p90": round(latencies[int(len(latencies) * 0.9)], 1),
            "max": round(latencies[-1], 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(json.dumps(measure(args.url, args.clients, args.seconds), indent=2))


if __name__ == "__main__":
    main()
