"""Live stream benchmark: send-to-event latency, and what 10,000 open streams cost.

Starts ``ems serve`` (SQLite, synchronous=FULL: every send is fsync'd before its 201), then:

- latency: one stream on a queue; send one message at a time and time until its event arrives
  at the client, from the start of the send request and from its acknowledgement (the event
  may be written before the 201 is read: that difference can be negative);
- 10,000 streams: opened on 100 queues (100 each, on bare sockets), then the server's resident
  memory (VmRSS), and the wake-up latency with all of them open: a send to a random queue,
  timed until one of that queue's streams has the message.

    python benchmarks/streams.py [--streams 10000] [--messages 1000] [--wakeups 300]

Writes benchmarks/results/streams.json. Run it under the heavy lock on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ems.bench.http import RawConnection
from longpoll_latency import percentiles
from queue_core import HERE, Server, machine

PORT = 18021
QUEUES = 100


class Arrivals:
    """When each message id reached any stream."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.events: dict[str, asyncio.Event] = {}

    def arrived(self, message_id: str) -> None:
        self.at[message_id] = time.perf_counter()
        self.events.setdefault(message_id, asyncio.Event()).set()

    async def wait(self, message_id: str) -> float:
        await asyncio.wait_for(self.events.setdefault(message_id, asyncio.Event()).wait(), 10)
        return self.at[message_id]


async def open_stream(path: str, arrivals: Arrivals, opened: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: ems\r\n\r\n".encode())
    try:
        status = await reader.readline()
        if not status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {status!r}")
        while line := await reader.readline():
            if line.startswith(b"retry:"):
                opened.set()
            elif line.startswith(b"id: "):
                arrivals.arrived(line[4:].strip().decode())
    finally:
        writer.close()


async def new_queue(connection: RawConnection) -> str:
    _, body = await connection.request("POST", "/ems/queue", b'{"visibility_timeout": 3600}')
    return str(json.loads(body)["queue_id"])


async def send(connection: RawConnection, queue_id: str) -> tuple[str, float, float]:
    started = time.perf_counter()
    status, body = await connection.request("POST", f"/ems/queue/{queue_id}/message", b"ping")
    acknowledged = time.perf_counter()
    assert status == 201, body
    return json.loads(body)["message_id"], started, acknowledged


async def latency(count: int) -> dict[str, Any]:
    sender = RawConnection("127.0.0.1", PORT)
    queue_id = await new_queue(sender)
    arrivals = Arrivals()
    opened = asyncio.Event()
    # delete=true: nothing stays in flight, so max_in_flight never holds a message back
    stream = asyncio.create_task(
        open_stream(f"/ems/queue/{queue_id}/stream?delete=true", arrivals, opened)
    )
    await opened.wait()
    from_start, from_ack = [], []
    for _ in range(count):
        message_id, started, acknowledged = await send(sender, queue_id)
        arrived = await arrivals.wait(message_id)
        from_start.append((arrived - started) * 1000)
        from_ack.append((arrived - acknowledged) * 1000)
        await asyncio.sleep(0.002)
    stream.cancel()
    return {"from_send_start": percentiles(from_start), "from_send_ack": percentiles(from_ack)}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


async def many(pid: int, streams: int, wakeups: int) -> dict[str, Any]:
    setup = RawConnection("127.0.0.1", PORT)
    queues = [await new_queue(setup) for _ in range(QUEUES)]
    rss_before = rss_mib(pid)
    arrivals = Arrivals()
    opened = [asyncio.Event() for _ in range(streams)]
    started = time.perf_counter()
    tasks = []
    for i in range(streams):
        path = f"/ems/queue/{queues[i % QUEUES]}/stream?delete=true"
        tasks.append(asyncio.create_task(open_stream(path, arrivals, opened[i])))
        if i % 500 == 499:
            await asyncio.sleep(0.05)  # a burst of 10,000 connects would overflow the backlog
    for event in opened:
        await asyncio.wait_for(event.wait(), 120)
    open_seconds = time.perf_counter() - started
    await asyncio.sleep(1)
    rss_open = rss_mib(pid)
    from_start = []
    sender = RawConnection("127.0.0.1", PORT)  # setup's connection idled out meanwhile
    for _ in range(wakeups):
        message_id, sent_at, _ = await send(sender, random.choice(queues))
        from_start.append((await arrivals.wait(message_id) - sent_at) * 1000)
        await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": streams,
        "seconds_to_open_all": round(open_seconds, 1),
        "rss_mib_before": rss_before,
        "rss_mib_with_streams_open": rss_open,
        "rss_kib_per_stream": round((rss_open - rss_before) * 1024 / streams, 1),
        "wakeup_from_send_start": percentiles(from_start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--wakeups", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "streams.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-streams-"))
    ems = Server(
        [sys.executable, "-m", "ems", "serve", "--port", str(PORT), "--data-dir",
         str(workdir / "data"), "--log-level", "warning", "--drain-seconds", "0",
         "--max-streams-per-client", str(args.streams + 10),
         "--max-streams-per-queue", str(args.streams),
         "--max-connections-per-client", str(args.streams + 100)],
        PORT, workdir / "ems.log",
    )  # fmt: skip
    results: dict[str, Any] = {"machine": machine()}
    try:
        results["latency_one_stream"] = asyncio.run(latency(args.messages))
        print("send -> event, one stream:", results["latency_one_stream"])
        results["open_streams"] = asyncio.run(many(ems.process.pid, args.streams, args.wakeups))
        print(f"{args.streams} open streams:", results["open_streams"])
    finally:
        ems.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
