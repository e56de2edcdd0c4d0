"""Instructions per request on the hot path: `ems serve` under callgrind, a fixed load.

Wall-clock figures on a shared machine move with everyone else's work; the instructions one
request costs the server do not. This starts ``ems serve`` (SQLite, a temporary directory, SQS
API in development mode) under ``valgrind --tool=callgrind`` with instrumentation off, warms each
scenario up, then counts the whole process's instructions (every thread, the commit thread's
fsync included) over ``--requests`` operations on ``--connections`` keep-alive connections, and
prints instructions per operation. With ``--keep DIR`` the callgrind files stay there, one per
scenario, for ``callgrind_annotate``.

    python benchmarks/hot_path.py [--requests 400] [--connections 16] [--scenario send ...]

An operation is a request, except in the receive scenarios (a receive and a delete: two
requests) and ``batch`` (one request of 100 messages). Under callgrind the server runs about 50
times slower than it does natively, so requests queue up and group commits hold more of them
than under wrk: the commit's share is smaller here than on real load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ems.bench.http import RawConnection

SCENARIOS = ("send", "batch", "receive_delete", "sqs_send", "sqs_receive_delete")
HERE = Path(__file__).resolve().parent
# how benchmarks/sbs_targets.py serves the bare app (uvicorn's defaults for EMS, named)
BARE_APP = ["uvicorn", "bare_app:app", "--app-dir", str(HERE), "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools", "--no-access-log"]  # fmt: skip
BODY = "x" * 256
SQS_JSON = b"Content-Type: application/x-amz-json-1.0\r\n"
# what boto3 sends (development mode parses it, and checks no signature)
SQS_AUTH = (
    b"Authorization: AWS4-HMAC-SHA256 Credential=bench/20261201/us-east-1/sqs/aws4_request, "
    b"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + b"0" * 64 + b"\r\n"
    b"X-Amz-Date: 20261201T000000Z\r\n"
)
Operation = Callable[[RawConnection], Awaitable[None]]


def sqs_headers(action: str) -> bytes:
    return SQS_JSON + SQS_AUTH + f"X-Amz-Target: AmazonSQS.{action}\r\n".encode()


async def call(connection: RawConnection, method: str, path: str, body: bytes = b"", *,
               headers: bytes = b"", expect: int = 200) -> bytes:  # fmt: skip
    status, answer = await connection.request(method, path, body, headers)
    if status != expect:
        raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
    return answer


async def sqs(connection: RawConnection, action: str, params: dict[str, object]) -> dict[str, str]:
    body = json.dumps(params).encode()
    answer = await call(connection, "POST", "/", body, headers=sqs_headers(action))
    document: dict[str, str] = json.loads(answer)
    return document


class Load:
    """One server, and the operations of each scenario against it."""

    def __init__(self, port: int, *, bare: bool = False) -> None:
        self.port = port
        self.bare = bare
        self.queue = ""
        self.queue_url = ""

    async def prepare(self, connection: RawConnection, scenario: str, fill: int) -> None:
        if self.bare:
            self.queue = "/ems/queue/x"  # the bare app answers every request alike
            return
        name = f"{scenario}-{time.monotonic_ns()}"
        if scenario.startswith("sqs"):
            self.queue_url = (await sqs(connection, "CreateQueue", {"QueueName": name}))["QueueUrl"]
        else:
            answer = json.loads(await call(connection, "POST", "/ems/queue", expect=201))
            self.queue = f"/ems/queue/{answer['queue_id']}"
        if scenario.endswith("receive_delete"):
            await self.fill(connection, scenario, fill)

    async def fill(self, connection: RawConnection, scenario: str, count: int) -> None:
        for start in range(0, count, 10):
            if scenario.startswith("sqs"):
                entries = [{"Id": str(i), "MessageBody": BODY} for i in range(start, start + 10)]
                await sqs(connection, "SendMessageBatch",
                          {"QueueUrl": self.queue_url, "Entries": entries})  # fmt: skip
            else:
                batch = json.dumps({"messages": [{"body": BODY}] * 10}).encode()
                await call(connection, "POST", self.queue + "/messages", batch, expect=201)

    def operation(self, scenario: str) -> Operation:
        return {
            "send": self.send,
            "batch": self.batch,
            "receive_delete": self.receive_delete,
            "sqs_send": self.sqs_send,
            "sqs_receive_delete": self.sqs_receive_delete,
        }[scenario]

    async def send(self, connection: RawConnection) -> None:
        await call(connection, "POST", self.queue + "/message", BODY.encode(), expect=201)

    async def batch(self, connection: RawConnection) -> None:
        body = json.dumps({"messages": [{"body": BODY}] * 100}).encode()
        await call(connection, "POST", self.queue + "/messages", body, expect=201)

    async def receive_delete(self, connection: RawConnection) -> None:
        path = self.queue + "/message?visibility_timeout=600&max_messages=1"
        answer = json.loads(await call(connection, "GET", path))
        handle = answer["messages"][0]["receipt_handle"]
        await call(connection, "DELETE", f"{self.queue}/message/{handle}", expect=204)

    async def sqs_send(self, connection: RawConnection) -> None:
        await sqs(connection, "SendMessage", {"QueueUrl": self.queue_url, "MessageBody": BODY})

    async def sqs_receive_delete(self, connection: RawConnection) -> None:
        params = {"QueueUrl": self.queue_url, "MaxNumberOfMessages": 1, "VisibilityTimeout": 600}
        answer = await sqs(connection, "ReceiveMessage", params)
        handle = answer["Messages"][0]["ReceiptHandle"]  # type: ignore[index]
        params = {"QueueUrl": self.queue_url, "ReceiptHandle": handle}
        await sqs(connection, "DeleteMessage", params)


async def run(port: int, operation: Operation, count: int, connections: int) -> None:
    pool = [RawConnection("127.0.0.1", port) for _ in range(connections)]
    remaining = [count]

    async def worker(connection: RawConnection) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await operation(connection)

    try:
        await asyncio.gather(*(worker(c) for c in pool))
    finally:
        for connection in pool:
            await connection.close()


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def instructions(path: Path) -> int:
    """The run's instruction total from a callgrind file (its ``summary:``/``totals:`` line)."""
    text = path.read_text(errors="replace")
    found = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    async def probe() -> bool:
        connection = RawConnection("127.0.0.1", port)
        try:
            status, _ = await connection.request("GET", "/readyz")
            return status < 300
        except OSError:
            return False
        finally:
            await connection.close()

    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError("ems serve ended before it was ready")
        if asyncio.run(probe()):
            return
        time.sleep(0.5)
    raise RuntimeError("ems serve was not ready within 300 s")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def measure(
    pid: int, load: Load, scenario: str, args: argparse.Namespace, out: Path
) -> dict[str, float]:
    """Instructions per operation of one scenario (warmed up first, then counted)."""
    port = load.port

    async def prepare() -> None:
        connection = RawConnection("127.0.0.1", port)
        try:
            await load.prepare(connection, scenario, args.requests + args.warmup)
        finally:
            await connection.close()

    asyncio.run(prepare())
    operation = load.operation(scenario)
    asyncio.run(run(port, operation, args.warmup, args.connections))
    control(pid, "--instr=on")
    control(pid, "--zero")
    started = time.monotonic()
    asyncio.run(run(port, operation, args.requests, args.connections))
    seconds = time.monotonic() - started
    control(pid, f"--dump={scenario}")
    control(pid, "--instr=off")
    dump = sorted(out.glob(f"callgrind.{pid}.*"), key=os.path.getmtime)[-1]
    if args.keep:
        dump = dump.rename(out / f"{scenario}.callgrind")
    return {
        "instructions_per_operation": round(instructions(dump) / args.requests),
        "operations": args.requests,
        "seconds_under_callgrind": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="operations per scenario")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument(
        "--bare", action="store_true", help="the bare ASGI app instead of EMS (send only)"
    )
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this directory")
    args = parser.parse_args()
    scenarios = ["send"] if args.bare else args.scenario or list(SCENARIOS)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as directory:
        out = args.keep or Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = [*BARE_APP, "--port", str(port)] if args.bare else [
            "ems", "serve", "--data-dir", str(Path(directory) / "data"), "--port", str(port),
            "--drain-seconds", "0", "--max-connections-per-client", "0",
        ]  # fmt: skip
        command = [
            valgrind, "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}/callgrind.%p", sys.executable, "-m", *server,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
        )
        results: dict[str, object] = {}
        try:
            wait_ready(port, process)
            load = Load(port, bare=args.bare)
            for scenario in scenarios:
                results[scenario] = measure(process.pid, load, scenario, args, out)
                print(scenario, results[scenario], file=sys.stderr, flush=True)
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    settings = {"requests": args.requests, "warmup": args.warmup, "connections": args.connections}
    print(json.dumps({"results": results, "settings": settings}, indent=2))


if __name__ == "__main__":
    main()
