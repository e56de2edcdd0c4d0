"""Idempotency-key benchmark: what an Idempotency-Key costs a send, on SQLite, in one run.

Starts ``ems serve`` on a fresh data directory and drives it with wrk: plain single-message
sends beside sends with a new key each (alternating rounds), sends that all repeat one key
(every answer a duplicate), and keyed sends to a queue already remembering 1,000,000 keys (the
cost of the lookup in a large window). Writes JSON and prints a Markdown table.

    python benchmarks/idempotency.py [--duration 5] [--rounds 2] [--keys 1000000]

Needs wrk. Run under the shared lock: flock /tmp/ems-heavy.lock ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from queue_core import HERE, Server, WrkResult, machine, wrk


def new_queue(server: Server, **attributes: int) -> str:
    created = httpx.post(f"{server.url}/ems/queue", json=attributes or None).json()
    return f"{server.url}/ems/queue/{created['queue_id']}/message"


def remember_keys(message_url: str, count: int) -> float:
    """Send ``count`` keyed messages in batches of 1000; returns keys/s."""
    from ems.bench.http import RawConnection

    url = httpx.URL(message_url.removesuffix("/message") + "/messages")
    batches = iter(range(count // 1000))

    async def worker() -> None:
        connection = RawConnection(url.host, url.port or 80)
        for batch in batches:
            entries = [{"body": "k", "idempotency_key": f"pre-{batch}-{i}"} for i in range(1000)]
            status, _ = await connection.request(
                "POST", url.path, json.dumps({"messages": entries}).encode()
            )
            assert status == 201, status
        await connection.close()

    async def fill() -> None:
        await asyncio.gather(*[worker() for _ in range(8)])

    started = time.monotonic()
    asyncio.run(fill())
    return count / (time.monotonic() - started)


def line(name: str, result: WrkResult) -> str:
    latency = result.latency_ms
    return (
        f"| {name} | {result.requests_per_second:,.0f} req/s | p50 {latency.get('50', 0):.1f} ms, "
        f"p99 {latency.get('99', 0):.1f} ms | {result.non_2xx} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "idempotency.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-"))
    ems = Server(
        [sys.executable, "-m", "ems", "serve", "--port", "18012", "--data-dir",
         str(workdir / "data"), "--log-level", "info", "--drain-seconds", "0"],
        18012, workdir / "ems.log",
    )  # fmt: skip
    results: dict[str, Any] = {"machine": machine(), "duration_s": args.duration}
    rows: list[str] = []

    def measure(name: str, url: str, script: str, **env: str) -> WrkResult:
        result = wrk(url, script, args.duration, args.connections, **env)
        results.setdefault(name, []).append(result.as_dict())
        rows.append(line(name, result))
        print(rows[-1], flush=True)
        return result

    try:
        for _ in range(args.rounds):
            measure("plain send", new_queue(ems), "send.lua")
            measure("send, a new Idempotency-Key each", new_queue(ems), "send_idempotent.lua")
        measure("send, every one repeating a key", new_queue(ems), "send_idempotent.lua",
                KEYS="repeat")  # fmt: skip
        big = new_queue(ems, deduplication_window_seconds=86_400)
        results["remember_keys_per_s"] = remember_keys(big, args.keys)
        print(f"remembered {args.keys:,} keys at {results['remember_keys_per_s']:,.0f}/s")
        measure(f"send, a new key each, {args.keys:,} keys in the window", big,
                "send_idempotent.lua")  # fmt: skip
        measure(f"send, repeating a key, {args.keys:,} keys in the window", big,
                "send_idempotent.lua", KEYS="repeat")  # fmt: skip
    finally:
        ems.stop()
    commit_line = re.search(r"group commit: .*", (workdir / "ems.log").read_text())
    results["group_commit"] = commit_line.group(0) if commit_line else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("| scenario | rate | latency | non-2xx |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
