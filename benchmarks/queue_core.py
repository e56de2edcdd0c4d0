"""Queue-core benchmark: EMS on SQLite beside a bare ASGI app, same server software, one run.

Starts both servers, drives them with wrk (64 connections by default), and reports:
single-message durable send (and its ratio to the bare app), batch send, receive+delete (single
and batched), long-poll wake-up latency, and send/receive with 1,000,000 messages waiting.
Writes the results as JSON (with machine and versions) and prints a Markdown summary.

    python benchmarks/queue_core.py [--duration 10] [--connections 64] [--skip-million]

Needs wrk (Debian: apt-get install wrk). Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from ems import DISTRIBUTION
from longpoll_latency import measure as measure_long_poll

HERE = Path(__file__).resolve().parent
WRK = HERE / "wrk"
SERVER_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]


@dataclass
class WrkResult:
    requests_per_second: float
    non_2xx: int
    errors: int
    latency_ms: dict[str, float]
    deleted: int | None
    duration: float

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__


def wrk(url: str, script: str, duration: int, connections: int, **env: str) -> WrkResult:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
        "-s", str(WRK / script), url,
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    deleted = re.search(r"deleted (\d+)", output)
    latency = {
        p: _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", output, re.MULTILINE)
    }
    return WrkResult(
        requests_per_second=rps,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_ms=latency,
        deleted=int(deleted.group(1)) if deleted else None,
        duration=duration,
    )


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


class Server:
    def __init__(
        self,
        command: list[str],
        port: int,
        log: Path,
        health: str = "/healthz",
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {command}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()


def new_queue(server: Server) -> str:
    queue_id: str = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
    return f"{server.url}/ems/queue/{queue_id}"


def preload(queue_url: str, count: int, body_bytes: int = 256) -> float:
    """Fill a queue with ``count`` messages through batch sends; returns messages/s."""
    batch = json.dumps({"messages": [{"body": "x" * body_bytes}] * 1000}).encode()
    started = time.monotonic()

    async def fill() -> None:
        from ems.bench.http import RawConnection

        url = httpx.URL(queue_url)
        remaining = [count // 1000]

        async def worker() -> None:
            connection = RawConnection(url.host, url.port or 80)
            while remaining[0] > 0:
                remaining[0] -= 1
                status, _ = await connection.request("POST", url.path + "/messages", batch)
                assert status == 201, status
            await connection.close()

        await asyncio.gather(*[worker() for _ in range(8)])

    asyncio.run(fill())
    return count / (time.monotonic() - started)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version_line = wrk_version.stdout.split("\n")[0]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "uvicorn": version("uvicorn"),
        "uvloop": version("uvloop"),
        "ems": version(DISTRIBUTION),
        "wrk": wrk_version_line.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/EMS send rounds")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "queue-core.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-"))
    results: dict[str, Any] = {
        "machine": machine(),
        "connections": args.connections,
        "duration_s": args.duration,
    }
    bare = Server(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(HERE),
         "--port", "18001", "--log-level", "warning", *SERVER_FLAGS],
        18001, workdir / "bare.log",
    )  # fmt: skip
    ems = Server(
        [sys.executable, "-m", "ems", "serve", "--port", "18002", "--data-dir",
         str(workdir / "data"), "--log-level", "info", "--drain-seconds", "0"],
        18002, workdir / "ems.log",
    )  # fmt: skip
    run = Run(args.duration, args.connections)
    try:
        results["send"] = run.send_rounds(bare, ems, args.rounds)
        results["send_batch_100"] = run.send_batch(ems)
        for size in (1, 10):
            results[f"receive_delete_{size}"] = run.receive_delete(ems, size)
        results["long_poll_wakeup"] = asyncio.run(measure_long_poll(ems.url, 300, 10))
        print("long-poll wake-up:", results["long_poll_wakeup"])
        if not args.skip_million:
            results.update(run.with_million_waiting(ems))
    finally:
        bare.stop()
        ems.stop()
    commit_line = re.search(r"group commit: .*", (workdir / "ems.log").read_text())
    results["group_commit"] = commit_line.group(0) if commit_line else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(summary(results))
    shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Run:
    duration: int
    connections: int

    def wrk(self, url: str, script: str, **env: str) -> WrkResult:
        return wrk(url, script, self.duration, self.connections, **env)

    def send_rounds(self, bare: Server, ems: Server, rounds: int) -> list[dict[str, Any]]:
        """Alternate bare and EMS, so that both see the same noise."""
        results = []
        queue = new_queue(ems)
        for _ in range(rounds):
            b = self.wrk(f"{bare.url}/ems/queue/x/message", "send.lua")
            e = self.wrk(queue + "/message", "send.lua")
            ratio = e.requests_per_second / b.requests_per_second
            results.append({"bare": b.as_dict(), "ems": e.as_dict(), "ratio": ratio})
            print(f"send: bare {b.requests_per_second:.0f}/s, ems {e.requests_per_second:.0f}/s")
        return results

    def send_batch(self, ems: Server) -> dict[str, Any]:
        batch = self.wrk(new_queue(ems), "send_batch.lua", BATCH="100")
        rate = batch.requests_per_second * 100
        print(f"batch send: {rate:.0f} msgs/s")
        return {**batch.as_dict(), "messages_per_second": rate}

    def receive_delete(self, ems: Server, size: int) -> dict[str, Any]:
        queue = new_queue(ems)
        preload(queue, 300_000 if size == 1 else 600_000)
        result = self.wrk(queue, "receive_delete.lua", BATCH=str(size))
        assert result.deleted is not None
        rate = result.deleted / self.duration
        print(f"receive+delete, batch {size}: {rate:.0f} msgs/s")
        return {**result.as_dict(), "messages_per_second": rate}

    def with_million_waiting(self, ems: Server) -> dict[str, Any]:
        queue = new_queue(ems)
        fill_rate = preload(queue, 1_000_000)
        send = self.wrk(queue + "/message", "send.lua")
        receive = self.wrk(queue, "receive_delete.lua", BATCH="1")
        assert receive.deleted is not None
        rate = receive.deleted / self.duration
        print(f"1M waiting: send {send.requests_per_second:.0f}/s, receive+delete {rate:.0f}/s")
        return {
            "preload_1m_messages_per_second": fill_rate,
            "with_1m_waiting": {
                "send": send.as_dict(),
                "receive_delete_1": {**receive.as_dict(), "messages_per_second": rate},
            },
        }


def summary(r: dict[str, Any]) -> str:
    ratios = sorted(x["ratio"] for x in r["send"])
    median = next(x for x in r["send"] if x["ratio"] == ratios[len(ratios) // 2])
    bare, ems = median["bare"], median["ems"]
    wake = r["long_poll_wakeup"]["after_ack"]
    single = r["receive_delete_1"]["messages_per_second"]
    lines = [
        "| scenario | result |",
        "|---|---|",
        f"| bare ASGI app, POST 256 B | {bare['requests_per_second']:,.0f} req/s |",
        f"| EMS durable send, 256 B | {ems['requests_per_second']:,.0f} req/s "
        f"(**{median['ratio']:.2f}×** bare; non-2xx {ems['non_2xx']}; "
        f"p99 {ems['latency_ms'].get('99', 0):.1f} ms) |",
        f"| send ratio, all rounds | {', '.join(f'{x:.2f}' for x in ratios)} |",
        f"| batch send, 100 × 256 B | {r['send_batch_100']['messages_per_second']:,.0f} msgs/s |",
        f"| receive + delete, one by one | {single:,.0f} msgs/s |",
        f"| receive + delete, batches of 10 | "
        f"{r['receive_delete_10']['messages_per_second']:,.0f} msgs/s |",
        f"| long-poll wake-up after ack, p50 / p99 | {wake['p50_ms']} / {wake['p99_ms']} ms |",
    ]
    if "with_1m_waiting" in r:
        send = r["with_1m_waiting"]["send"]["requests_per_second"]
        receive = r["with_1m_waiting"]["receive_delete_1"]["messages_per_second"]
        lines += [
            f"| send, 1,000,000 waiting | {send:,.0f} req/s "
            f"({send / ems['requests_per_second']:.2f}× of a near-empty queue) |",
            f"| receive + delete, 1,000,000 waiting | {receive:,.0f} msgs/s "
            f"({receive / single:.2f}×) |",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
