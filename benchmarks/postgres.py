"""PostgreSQL benchmark: the queue-core scenarios on SQLite, PostgreSQL with one node and with two
nodes on one database, in one run; cross-node long-poll wake-ups; and the table size through
sending and draining 1,000,000 messages (twice: the second cycle shows whether space is reused).

    python benchmarks/postgres.py [--database-url postgresql://postgres@127.0.0.1/postgres]
        [--duration 10] [--connections 64] [--skip-million]

A throwaway database is created on that server and dropped afterwards. Two nodes are driven by
two wrk processes at once (half the connections each) and their rates added. Everything (PG,
EMS nodes, wrk) shares this machine's cores: read the figures as relative to each other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from ems.bench.http import RawConnection
from longpoll_latency import measure as measure_long_poll
from queue_core import Server, WrkResult, machine, preload, wrk

HERE = Path(__file__).resolve().parent


class Setup:
    """One configuration under test: its nodes, all serving the same data."""

    def __init__(self, name: str, nodes: list[Server]) -> None:
        self.name = name
        self.nodes = nodes

    def new_queue(self) -> str:
        """A queue's path (the same on every node)."""
        queue_id = httpx.post(f"{self.nodes[0].url}/ems/queue").json()["queue_id"]
        return f"/ems/queue/{queue_id}"

    def wrk(self, path: str, script: str, duration: int, connections: int, **env: str) -> WrkResult:
        """wrk against every node at once, connections split between them; rates added."""
        share = max(connections // len(self.nodes), 1)
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            runs = [
                pool.submit(wrk, node.url + path, script, duration, share, **env)
                for node in self.nodes
            ]
            results = [run.result() for run in runs]
        deleted = [r.deleted for r in results if r.deleted is not None]
        return WrkResult(
            requests_per_second=sum(r.requests_per_second for r in results),
            non_2xx=sum(r.non_2xx for r in results),
            errors=sum(r.errors for r in results),
            latency_ms=results[0].latency_ms,
            deleted=sum(deleted) if deleted else None,
            duration=duration,
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def scenarios(setup: Setup, duration: int, connections: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    send = setup.wrk(setup.new_queue() + "/message", "send.lua", duration, connections)
    results["send"] = send.as_dict()
    batch = setup.wrk(setup.new_queue(), "send_batch.lua", duration, connections, BATCH="100")
    results["send_batch_100"] = {
        **batch.as_dict(),
        "messages_per_second": batch.requests_per_second * 100,
    }
    for size in (1, 10):
        queue = setup.new_queue()
        preload(setup.nodes[0].url + queue, 200_000 if size == 1 else 400_000)
        received = setup.wrk(queue, "receive_delete.lua", duration, connections, BATCH=str(size))
        assert received.deleted is not None
        results[f"receive_delete_{size}"] = {
            **received.as_dict(),
            "messages_per_second": received.deleted / duration,
        }
    first = setup.nodes[0].url
    results["long_poll_wakeup"] = asyncio.run(measure_long_poll(first, 200, 10))
    if len(setup.nodes) > 1:
        results["long_poll_wakeup_cross_node"] = asyncio.run(
            measure_long_poll(first, 200, 10, send_url=setup.nodes[1].url)
        )
    print(setup.name, json.dumps(brief(results)))
    return results


def brief(results: dict[str, Any]) -> dict[str, Any]:
    line = {
        "send/s": round(results["send"]["requests_per_second"]),
        "non-2xx": results["send"]["non_2xx"],
        "batch msgs/s": round(results["send_batch_100"]["messages_per_second"]),
        "recv+del 1 msgs/s": round(results["receive_delete_1"]["messages_per_second"]),
        "recv+del 10 msgs/s": round(results["receive_delete_10"]["messages_per_second"]),
        "wake p50 ms": results["long_poll_wakeup"]["after_ack"]["p50_ms"],
    }
    if "long_poll_wakeup_cross_node" in results:
        line["cross-node wake p50 ms"] = results["long_poll_wakeup_cross_node"]["after_ack"][
            "p50_ms"
        ]
    return line


async def drain(base_url: str, path: str, workers: int = 16) -> tuple[int, float]:
    """Receive and delete everything, 100 at a time; (messages, seconds)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    total = [0]
    started = time.monotonic()

    async def worker() -> None:
        connection = RawConnection(host, port)
        try:
            while True:
                status, body = await connection.request(
                    "GET", f"{path}/message?max_messages=100&visibility_timeout=600"
                )
                assert status == 200, status
                handles = [m["receipt_handle"] for m in json.loads(body)["messages"]]
                if not handles:
                    return
                payload = json.dumps({"receipt_handles": handles}).encode()
                status, _ = await connection.request("POST", f"{path}/messages/delete", payload)
                assert status == 200, status
                total[0] += len(handles)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(workers)))
    return total[0], time.monotonic() - started


async def table_size(database_url: str, schema: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap, "
            "s.n_live_tup, s.n_dead_tup, s.autovacuum_count, s.vacuum_count, "
            "current_setting('autovacuum') AS autovacuum "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE n.nspname = $1 AND c.relname = 'messages'",
            schema,
        )
        assert row is not None
        return {
            "total_mb": round(row["total"] / 2**20, 1),
            "heap_mb": round(row["heap"] / 2**20, 1),
            "live_rows": row["n_live_tup"],
            "dead_rows": row["n_dead_tup"],
            "autovacuums": row["autovacuum_count"],
            # EMS vacuums its own tables when autovacuum is off (storage/postgres/housekeeping.py)
            "vacuums_by_ems": row["vacuum_count"],
            "autovacuum": row["autovacuum"],
        }
    finally:
        await conn.close()


def million_cycles(
    node: Server, database_url: str, schema: str, cycles: int = 2
) -> list[dict[str, Any]]:
    """Send 1,000,000 messages and drain them, ``cycles`` times, with the table's size."""
    path = httpx.post(f"{node.url}/ems/queue").json()["queue_id"]
    path = f"/ems/queue/{path}"
    report = []
    for cycle in range(1, cycles + 1):
        entry: dict[str, Any] = {"cycle": cycle}
        entry["before"] = asyncio.run(table_size(database_url, schema))
        entry["send_messages_per_second"] = round(preload(node.url + path, 1_000_000))
        entry["after_sending"] = asyncio.run(table_size(database_url, schema))
        drained, seconds = asyncio.run(drain(node.url, path))
        assert drained == 1_000_000, drained
        entry["drain_messages_per_second"] = round(drained / seconds)
        entry["after_draining"] = asyncio.run(table_size(database_url, schema))
        # (auto)vacuum runs on its own schedule: give it a minute to catch up
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            size = asyncio.run(table_size(database_url, schema))
            if size["dead_rows"] < 10_000:
                break
            time.sleep(2)
        entry["after_vacuum"] = asyncio.run(table_size(database_url, schema))
        print("1M cycle", json.dumps(entry))
        report.append(entry)
    return report


def ems_node(port: int, workdir: Path, env: dict[str, str]) -> Server:
    command = [sys.executable, "-m", "ems", "serve", "--port", str(port), "--data-dir",
               str(workdir / f"data-{port}"), "--log-level", "info",
               "--drain-seconds", "0"]  # fmt: skip
    return Server(command, port, workdir / f"ems-{port}.log", env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "postgres.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="ems-bench-pg-"))
    database = f"ems_bench_{os.getpid()}"

    async def admin(statement: str) -> str:
        conn = await asyncpg.connect(args.database_url)
        try:
            await conn.execute(statement)
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    server_version = asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    database_url = urlunsplit(urlsplit(args.database_url)._replace(path="/" + database))
    results: dict[str, Any] = {
        "machine": {**machine(), "postgresql": server_version},
        "connections": args.connections,
        "duration_s": args.duration,
    }
    try:
        results.update(run_setups(args, workdir, database_url))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(summary(results))


def run_setups(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    sqlite = Setup("sqlite", [ems_node(18010, workdir, {})])
    try:
        results["sqlite"] = scenarios(sqlite, args.duration, args.connections)
    finally:
        sqlite.stop()
    pg_env = {"EMS_DATABASE_URL": database_url, "EMS_DATABASE_SCHEMA": "one"}
    one = Setup("postgres, 1 node", [ems_node(18011, workdir, pg_env)])
    try:
        results["postgres_1_node"] = scenarios(one, args.duration, args.connections)
        if not args.skip_million:
            results["million_cycles"] = million_cycles(one.nodes[0], database_url, "one")
    finally:
        one.stop()
    pg_env["EMS_DATABASE_SCHEMA"] = "two"
    two = Setup(
        "postgres, 2 nodes",
        [ems_node(18012, workdir, pg_env), ems_node(18013, workdir, pg_env)],
    )
    try:
        results["postgres_2_nodes"] = scenarios(two, args.duration, args.connections)
    finally:
        two.stop()
    for log in sorted(workdir.glob("ems-*.log")):
        commit = re.search(r"group commit: .*", log.read_text())
        results.setdefault("group_commit", {})[log.stem] = commit.group(0) if commit else None
    return results


def summary(r: dict[str, Any]) -> str:
    setups = [("SQLite", "sqlite"), ("PostgreSQL, 1 node", "postgres_1_node"),
              ("PostgreSQL, 2 nodes", "postgres_2_nodes")]  # fmt: skip
    rows: list[tuple[str, Callable[[dict[str, Any]], float]]] = [
        ("durable single-message send, 256 B (req/s)", lambda x: x["send"]["requests_per_second"]),
        ("  its p99 latency (ms)", lambda x: x["send"]["latency_ms"].get("99", 0)),
        ("batch send, 100 × 256 B (msgs/s)", lambda x: x["send_batch_100"]["messages_per_second"]),
        ("receive + delete, one by one (msgs/s)",
         lambda x: x["receive_delete_1"]["messages_per_second"]),
        ("receive + delete, batches of 10 (msgs/s)",
         lambda x: x["receive_delete_10"]["messages_per_second"]),
        ("long-poll wake-up after ack, p50 (ms)",
         lambda x: x["long_poll_wakeup"]["after_ack"]["p50_ms"]),
    ]  # fmt: skip
    lines = ["| scenario | " + " | ".join(name for name, _ in setups) + " |"]
    lines.append("|---" * (len(setups) + 1) + "|")
    for label, value in rows:
        cells = [f"{value(r[key]):,.1f}" if label.endswith("(ms)") else f"{value(r[key]):,.0f}"
                 for _, key in setups]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cross = r["postgres_2_nodes"].get("long_poll_wakeup_cross_node")
    if cross:
        wake = cross["after_ack"]
        lines.append(
            f"| long-poll wake-up, send on node A, waiter on node B, p50 / p99 (ms) | | | "
            f"{wake['p50_ms']} / {wake['p99_ms']} |"
        )
    for cycle in r.get("million_cycles", []):
        lines.append(
            f"\n1M cycle {cycle['cycle']}: messages table {cycle['before']['total_mb']} MB before, "
            f"{cycle['after_sending']['total_mb']} MB after sending, "
            f"{cycle['after_draining']['total_mb']} MB after draining, "
            f"{cycle['after_vacuum']['total_mb']} MB after vacuum "
            f"(send {cycle['send_messages_per_second']:,} msgs/s, drain "
            f"{cycle['drain_messages_per_second']:,} msgs/s)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
