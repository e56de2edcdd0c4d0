"""Exactly-once benchmark (issue 19), on SQLite, in one run: FIFO queues beside standard ones,
and what an Idempotency-Key costs a send.

Starts ``ems serve`` on a fresh data directory and drives it with wrk: single-message sends and
receive + delete on a standard queue beside a FIFO queue with 1, 10 and 1,000 message groups;
plain sends beside sends with a new key each (alternating rounds), sends that all repeat one key
(every answer a duplicate), and keyed sends to a queue already remembering 1,000,000 keys (the
cost of the lookup in a large window). Writes JSON and prints a Markdown table.

    python benchmarks/idempotency.py [--duration 5] [--rounds 2] [--keys 1000000]

Needs wrk. Run under the shared lock: flock /tmp/ems-bench.lock ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from queue_core import HERE, Server, WrkResult, machine, preload, wrk
from sbs_profile import py_spy, summarize

GROUP_COUNTS = (1, 10, 1000)


def new_queue(server: Server, **attributes: object) -> str:
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


def preload_fifo(message_url: str, count: int, groups: int) -> None:
    """Fill a FIFO queue with ``count`` messages spread over ``groups`` groups, in batches."""
    from ems.bench.http import RawConnection

    url = httpx.URL(message_url.removesuffix("/message") + "/messages")
    batches = iter(range(count // 1000))

    async def worker() -> None:
        connection = RawConnection(url.host, url.port or 80)
        for batch in batches:
            entries = [
                {"body": "x" * 256, "group_id": f"g{(batch * 1000 + i) % groups}",
                 "deduplication_id": f"pre-{batch}-{i}"}
                for i in range(1000)
            ]  # fmt: skip
            status, _ = await connection.request(
                "POST", url.path, json.dumps({"messages": entries}).encode()
            )
            assert status == 201, status
        await connection.close()

    async def fill() -> None:
        await asyncio.gather(*[worker() for _ in range(8)])

    asyncio.run(fill())


def profile_threads(pid: int, seconds: int, output: Path, load: Any) -> dict[str, Any]:
    """Run ``load()`` while py-spy samples every thread of ``pid`` (not only the GIL's holder:
    the SQLite writer runs its statements without the GIL); a summary by function."""
    tool = py_spy()
    if tool is None:
        load()
        return {"error": "py-spy is not installed: pip install 'easy-message-service[bench]'"}
    command = [tool, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
               "--format", "raw", "--output", str(output), "--nonblocking"]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        load()
    finally:
        spy.communicate(timeout=seconds + 60)
    if not output.exists():
        return {"error": "py-spy wrote nothing"}
    return {"command": " ".join(command), **summarize(output.read_text(), top=10)}


def line(name: str, result: WrkResult) -> str:
    latency = result.latency_ms
    return (
        f"| {name} | {result.requests_per_second:,.0f} req/s | p50 {latency.get('50', 0):.1f} ms, "
        f"p99 {latency.get('99', 0):.1f} ms | {result.non_2xx} |"
    )


class Run:
    """One server, the scenarios run against it, and what they measured."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.ems = Server(
            [sys.executable, "-m", "ems", "serve", "--port", "18012", "--data-dir",
             str(workdir / "data"), "--log-level", "info", "--drain-seconds", "0"],
            18012, workdir / "ems.log",
        )  # fmt: skip
        self.results: dict[str, Any] = {"machine": machine(), "duration_s": args.duration}
        self.rows: list[str] = []

    def queue(self, **attributes: object) -> str:
        return new_queue(self.ems, **attributes)

    def measure(self, name: str, url: str, script: str, **env: str) -> WrkResult:
        result = wrk(url, script, self.args.duration, self.args.connections, **env)
        self.results.setdefault(name, []).append(result.as_dict())
        self.rows.append(line(name, result))
        print(self.rows[-1], flush=True)
        return result

    def filled(self, groups: int | None) -> str:
        """A new queue (FIFO with ``groups`` groups; None: standard) holding --preload messages."""
        if groups is None:
            url = self.queue()
            preload(url.removesuffix("/message"), self.args.preload)
        else:
            url = self.queue(fifo=True)
            preload_fifo(url, self.args.preload, groups)
        return url

    def receive_delete(self, name: str, url: str) -> None:
        result = self.measure(name, url.removesuffix("/message"), "receive_delete.lua", BATCH="1")
        assert result.deleted is not None
        rate = result.deleted / self.args.duration
        self.results[name][-1]["messages_per_second"] = rate
        self.rows[-1] += f" {rate:,.0f} msgs/s |"

    def fifo(self) -> None:
        self.measure("send, standard queue", self.queue(), "send.lua")
        for groups in GROUP_COUNTS:
            self.measure(f"send, FIFO, {groups} groups", self.queue(fifo=True), "send_fifo.lua",
                         GROUPS=str(groups))  # fmt: skip
        self.receive_delete("receive + delete, standard queue", self.filled(None))
        for groups in GROUP_COUNTS:
            self.receive_delete(f"receive + delete, FIFO, {groups} groups", self.filled(groups))

    def idempotency(self) -> None:
        for _ in range(self.args.rounds):
            self.measure("plain send", self.queue(), "send.lua")
            self.measure("send, a new Idempotency-Key each", self.queue(), "send_idempotent.lua")
        self.measure("send, every one repeating a key", self.queue(), "send_idempotent.lua",
                     KEYS="repeat")  # fmt: skip
        keys = self.args.keys
        big = self.queue(deduplication_window_seconds=86_400)
        self.results["remember_keys_per_s"] = remember_keys(big, keys)
        print(f"remembered {keys:,} keys at {self.results['remember_keys_per_s']:,.0f}/s")
        self.measure(f"send, a new key each, {keys:,} keys in the window", big,
                     "send_idempotent.lua")  # fmt: skip
        self.measure(f"send, repeating a key, {keys:,} keys in the window", big,
                     "send_idempotent.lua", KEYS="repeat")  # fmt: skip

    def profiles(self) -> None:
        """py-spy on sends and receive + delete, standard and FIFO with 1,000 groups."""
        duration, connections = self.args.duration, self.args.connections
        for name, groups in (("standard", None), ("FIFO, 1000 groups", 1000)):
            send_url = self.queue(fifo=True) if groups else self.queue()
            script = "send_fifo.lua" if groups else "send.lua"
            self.results[f"profile: send, {name}"] = profile_threads(
                self.ems.process.pid, duration, self.workdir / f"send-{groups}.spy",
                lambda url=send_url, script=script: wrk(url, script, duration, connections,
                                                        GROUPS="1000"),
            )  # fmt: skip
            url = self.filled(groups).removesuffix("/message")
            self.results[f"profile: receive + delete, {name}"] = profile_threads(
                self.ems.process.pid, duration, self.workdir / f"{groups}.spy",
                lambda url=url: wrk(url, "receive_delete.lua", duration, connections, BATCH="1"),
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--preload", type=int, default=20_000, help="messages per receive queue")
    parser.add_argument("--profile", action="store_true", help="then py-spy sends and receives")
    parser.add_argument("--profile-only", action="store_true", help="only the profiles")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "idempotency.json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-"))
    run = Run(args, workdir)
    try:
        if not args.profile_only:
            run.fifo()
            run.idempotency()
        if args.profile or args.profile_only:
            run.profiles()
    finally:
        run.ems.stop()
    commit_line = re.search(r"group commit: .*", (workdir / "ems.log").read_text())
    run.results["group_commit"] = commit_line.group(0) if commit_line else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run.results, indent=2) + "\n")
    print("| scenario | rate | latency | non-2xx | messages |\n|---|---|---|---|---|")
    print("\n".join(run.rows))


if __name__ == "__main__":
    main()
