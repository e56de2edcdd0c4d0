"""The bars of issue 23 with wrk, in one run: EMS on SQLite beside the bare ASGI app.

Starts the bare app and one ``ems serve`` (SQLite, SQS API in development mode) and runs, in
``--rounds`` alternating rounds of ``--duration`` seconds each: the bare app's answer, a native
durable send, a batch send of 100, native receive + delete one by one, SQS SendMessage and SQS
ReceiveMessage + DeleteMessage (AWS JSON protocol). Prints every wrk result (with its command)
and the ratios of the bars as JSON. The side-by-side run (benchmarks/side_by_side.py) measures
the same native scenarios among many others; this is its short form for the hot path.

    /usr/bin/flock /tmp/ems-bench.lock python benchmarks/hot_path_wrk.py [--duration 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sbs_targets as targets
import sbs_wrk
from ems.bench.http import RawConnection
from queue_core import preload
from side_by_side import new_queue

BODY = "x" * 256
SQS_HEADERS = b"Content-Type: application/x-amz-json-1.0\r\n"


async def sqs_call(port: int, action: str, params: dict[str, Any]) -> Any:
    connection = RawConnection("127.0.0.1", port)
    headers = SQS_HEADERS + f"X-Amz-Target: AmazonSQS.{action}\r\n".encode()
    try:
        status, answer = await connection.request("POST", "/", json.dumps(params).encode(), headers)
        if status != 200:
            raise RuntimeError(f"{action}: {status} {answer[:200]!r}")
        return json.loads(answer)
    finally:
        await connection.close()


async def sqs_fill(port: int, queue_url: str, count: int) -> None:
    """``count`` messages through SendMessageBatch (10 a request) on 8 connections."""
    entries = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
    body = json.dumps({"QueueUrl": queue_url, "Entries": entries}).encode()
    headers = SQS_HEADERS + b"X-Amz-Target: AmazonSQS.SendMessageBatch\r\n"
    remaining = [count // 10]

    async def worker() -> None:
        connection = RawConnection("127.0.0.1", port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                status, answer = await connection.request("POST", "/", body, headers)
                if status != 200:
                    raise RuntimeError(f"SendMessageBatch: {status} {answer[:200]!r}")
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(8)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ems-hot-path-"))
    bare = targets.bare_app(workdir)
    ems = targets.ems(workdir, "ems_sqlite")
    rounds: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def wrk(url: str, script: str, **env: str) -> dict[str, Any]:
        return sbs_wrk.run(url, script, args.duration, args.connections, **env)

    try:
        for n in range(args.rounds):
            one: dict[str, Any] = {}
            one["bare_send"] = wrk(bare.url + "/ems/queue/x/message", "send.lua")
            one["send"] = wrk(new_queue(ems) + "/message", "send.lua")
            batch = wrk(new_queue(ems), "send_batch.lua", BATCH="100")
            batch["messages_per_second"] = round(batch["requests_per_second"] * 100, 1)
            one["batch_100"] = batch
            queue = new_queue(ems)
            preload(queue, 12_000 * args.duration)
            received = wrk(queue, "receive_delete.lua", BATCH="1")
            received["messages_per_second"] = round(received["deleted"] / received["seconds"], 1)
            one["receive_delete"] = received
            name = f"hot-{n}-{time.monotonic_ns()}"
            queue_url = asyncio.run(sqs_call(ems.port, "CreateQueue", {"QueueName": name}))[
                "QueueUrl"
            ]
            one["sqs_send"] = wrk(ems.url + "/", "sqs_send.lua", QUEUE_URL=queue_url)
            asyncio.run(sqs_fill(ems.port, queue_url, 8_000 * args.duration))
            sqs_received = wrk(ems.url + "/", "sqs_receive_delete.lua", QUEUE_URL=queue_url)
            sqs_received["messages_per_second"] = round(
                sqs_received["deleted"] / sqs_received["seconds"], 1
            )
            one["sqs_receive_delete"] = sqs_received
            rounds.append(one)
            print(f"round {n + 1}: " + ", ".join(
                f"{k} {v.get('messages_per_second', v['requests_per_second']):,.0f}/s"
                for k, v in one.items()
            ), file=sys.stderr)  # fmt: skip
    finally:
        ems.stop()
        bare.stop()
    ratios = [
        {
            "send_vs_bare": r["send"]["requests_per_second"]
            / r["bare_send"]["requests_per_second"],
            "batch_100_msgs_per_s": r["batch_100"]["messages_per_second"],
            "receive_delete_vs_send": r["receive_delete"]["messages_per_second"]
            / r["send"]["requests_per_second"],
            "sqs_send_vs_send": r["sqs_send"]["requests_per_second"]
            / r["send"]["requests_per_second"],
            "sqs_receive_delete_vs_native": r["sqs_receive_delete"]["messages_per_second"]
            / r["receive_delete"]["messages_per_second"],
        }
        for r in rounds
    ]
    summary = {k: round(statistics.median(r[k] for r in ratios), 3) for k in ratios[0]}
    print(json.dumps({"started": started, "rounds": rounds, "ratios": ratios,
                      "median": summary, "settings": vars(args)}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
