"""``ems serve --workers``: durable single sends with 1 worker beside 2, SQLite and PostgreSQL.

Each round starts a fresh server per (backend, workers) pair, waits until every worker serves,
and runs wrk against one queue (``send.lua``: POST 256-byte bodies, 64 connections, as the
side-by-side run does). Rounds alternate 1 and 2 workers so that a change in the machine's other
load falls on both. Prints a Markdown table and writes ``benchmarks/results/workers.json``.

    /usr/bin/flock /tmp/ems-bench.lock python benchmarks/workers.py [--duration 10] [--rounds 3]

Needs wrk, and PostgreSQL on 127.0.0.1:5432 (trust auth; a database ems_bench_<pid> is made and
dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sbs_targets as targets
import sbs_wrk
from side_by_side import new_queue, raise_file_limit

HERE = Path(__file__).resolve().parent
CONNECTIONS = 64


def start(workdir: Path, name: str, workers: int, database_url: str | None) -> targets.Process:
    port = targets.free_port()
    command = [
        sys.executable, "-m", "ems", "serve", "--port", str(port), "--workers", str(workers),
        "--data-dir", str(workdir / f"{name}-data"), "--log-level", "info",
        "--max-connections-per-client", "0", "--drain-seconds", "0",
    ]  # fmt: skip
    env = {"EMS_DATABASE_URL": database_url} if database_url else {}
    server = targets.Process(name, command, port, workdir, **env)
    targets.wait_http(server.url + "/healthz")
    deadline = time.monotonic() + 60
    while server.log_path.read_text().count(" serving http") < workers:  # every worker is up
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: not every worker started")
        time.sleep(0.1)
    return server


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a server process and its workers (Linux's /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for process in [str(pid), *children]:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def measure(
    workdir: Path, backend: str, workers: int, duration: float, database_url: str | None
) -> dict[str, Any]:
    name = f"{backend}-{workers}w-{time.monotonic_ns()}"
    server = start(workdir, name, workers, database_url if backend == "postgres" else None)
    try:
        url = new_queue(server) + "/message"
        sbs_wrk.run(url, "send.lua", 2, CONNECTIONS)  # warm up: caches, connections
        before = cpu_seconds(server.pid)
        result = sbs_wrk.run(url, "send.lua", duration, CONNECTIONS)
        # CPU per request: what a worker costs, whatever else the shared machine is doing
        used = cpu_seconds(server.pid) - before
        result["server_cpu_ms_per_1000_requests"] = round(
            used * 1e6 / max(result["requests"], 1), 1
        )
    finally:
        server.stop()
    result["command"] = f"{server.shown()}; {result['command']}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raise_file_limit()
    database = targets.PostgresDatabase()
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ems-workers-") as tmp:
            workdir = Path(tmp)
            for number in range(args.rounds):
                one: dict[str, Any] = {}
                for backend in ("sqlite", "postgres"):
                    order = (1, 2) if number % 2 == 0 else (2, 1)
                    for workers in order:
                        result = measure(workdir, backend, workers, args.duration, database.url)
                        one[f"{backend}_{workers}"] = result
                        print(
                            f"round {number + 1} {backend} {workers} worker(s): "
                            f"{result['requests_per_second']:,.0f} req/s, "
                            f"p99 {result['latency_ms'].get('p99')} ms, "
                            f"CPU {result['server_cpu_ms_per_1000_requests']} ms per 1000, "
                            f"non-2xx {result['non_2xx']}, socket errors {result['socket_errors']}",
                            file=sys.stderr,
                        )
                rounds.append(one)
    finally:
        database.drop()
    report(rounds, args)


def report(rounds: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print("| round | backend | 1 worker (req/s) | 2 workers (req/s) | ratio | CPU ms/1000 req |")
    print("|---|---|---|---|---|---|")
    ratios: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    for number, one in enumerate(rounds, 1):
        for backend in ("sqlite", "postgres"):
            single = one[f"{backend}_1"]["requests_per_second"]
            double = one[f"{backend}_2"]["requests_per_second"]
            ratios[backend].append(double / single)
            ratio = double / single
            cpu = [one[f"{backend}_{n}"]["server_cpu_ms_per_1000_requests"] for n in (1, 2)]
            print(
                f"| {number} | {backend} | {single:,.0f} | {double:,.0f} | {ratio:.2f}x "
                f"| {cpu[0]} / {cpu[1]} |"
            )
    for backend, values in ratios.items():
        median = statistics.median(values)
        print(f"\n{backend}: median ratio {median:.2f}x over {len(values)} rounds")
    out = HERE / "results" / "workers.json"
    out.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "duration": args.duration,
                "connections": CONNECTIONS,
                "rounds": rounds,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
