"""Side by side: the same HTTP load against a bare ASGI app, nginx, EMS on SQLite, EMS on
PostgreSQL and RabbitMQ's HTTP API, on one machine in one run; then EMS's scale figures.

Writes every figure, with the machine, the versions and the exact command behind it, to
``benchmarks/results/side-by-side.json``; the charts to ``docs/img/``; and its section of
``docs/performance.md`` (between the ``side-by-side`` markers; the rest of the file is kept).

    python benchmarks/side_by_side.py [--duration 10] [--rounds 2] [--note TEXT]
    python benchmarks/side_by_side.py --from-json benchmarks/results/side-by-side.json  # docs only

Needs wrk and nginx (installed with apt-get when missing), PostgreSQL on 127.0.0.1:5432 (trust
auth; a database ems_bench_<pid> is made and dropped), RabbitMQ on this machine (guest/guest; the
management plugin is enabled when its port is not up) and
``pip install 'easy-message-service[bench]'`` (matplotlib, py-spy; installed when missing).
Takes about 10-15 minutes with --duration 10.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sbs_report
import sbs_targets as targets
import sbs_wrk
from ems import DISTRIBUTION
from ems.bench.api import create_queues
from ems.bench.http import RawConnection
from ems.bench.options import Target
from queue_core import preload
from sbs_profile import profiled, py_spy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = ("bare", "nginx", "ems_sqlite", "ems_postgres", "rabbitmq")


def ensure_python(*modules: str) -> None:
    wanted = [m for m in modules if importlib.util.find_spec(m.replace("-", "_")) is None]
    if wanted:
        print(f"pip install {' '.join(wanted)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *wanted], check=True)


def raise_file_limit() -> int:
    """Like ``ulimit -n <hard>``: this script and every server it starts inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ems_bench(url: str, *args: str) -> dict[str, Any]:
    """``ems bench ... --json`` in its own process (its CPU time is its own)."""
    command = [sys.executable, "-m", "ems", "bench", *args, "--url", url, "--json"]
    answer = subprocess.run(command, capture_output=True, text=True, check=False)
    if not answer.stdout.strip():
        raise RuntimeError(f"ems bench failed: {answer.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(answer.stdout)
    result["command"] = "ems bench " + " ".join(args) + " --url URL --json"
    return result


@contextmanager
def peak_rss(server: targets.Process) -> Iterator[dict[str, float]]:
    """The server's largest RSS (MiB) while the block runs, sampled every 0.1 s."""
    peak = {"rss_mib": server.rss_mib()}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak["rss_mib"] = max(peak["rss_mib"], server.rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def new_queue(server: targets.Process) -> str:
    async def create() -> str:
        return (await create_queues(Target("127.0.0.1", server.port, ""), 1))[0]

    return f"{server.url}/ems/queue/{asyncio.run(create())}"


def per_second(result: dict[str, Any], counted: str | None = None, batch: int = 1) -> float:
    if counted is not None:
        return round(float(result.get(counted, 0)) / float(result["seconds"]), 1)
    return round(float(result["requests_per_second"]) * batch, 1)


class Run:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.duration: int = args.duration
        self.connections: int = args.connections
        self.rounds: int = args.rounds
        self.quick: bool = args.quick
        self.workdir = workdir
        self.results: dict[str, Any] = {}
        self.servers: dict[str, targets.Process] = {}
        self.database: targets.PostgresDatabase | None = None
        self.rabbit: targets.RabbitMq | None = None
        self.rabbit_published = 0

    def wrk(
        self, url: str, script: str | None, seconds: float | None = None, **env: str
    ) -> dict[str, Any]:
        return sbs_wrk.run(url, script, seconds or self.duration, self.connections, **env)

    # the comparison --------------------------------------------------------------------------

    def start(self) -> None:
        self.database = targets.PostgresDatabase()
        self.rabbit = targets.RabbitMq()
        self.servers["bare"] = targets.bare_app(self.workdir)
        self.servers["nginx"] = targets.nginx(self.workdir)
        self.servers["ems_sqlite"] = targets.ems(self.workdir, "ems_sqlite")
        self.servers["ems_postgres"] = targets.ems(self.workdir, "ems_postgres", self.database.url)

    def send(self) -> None:
        assert self.rabbit is not None
        rabbit_queue = self.rabbit.quorum_queue()
        self.results["rabbitmq_queue"] = {"type": "quorum", "durable": True}
        queues = {name: new_queue(self.servers[name]) for name in ("ems_sqlite", "ems_postgres")}
        rounds = []
        for n in range(self.rounds):
            one: dict[str, Any] = {}
            one["bare"] = self.wrk(self.servers["bare"].url + "/ems/queue/x/message", "send.lua")
            one["nginx"] = self.wrk(self.servers["nginx"].url + "/ems/queue/x/message", "send.lua")
            for name, queue in queues.items():
                one[name] = self.wrk(queue + "/message", "send.lua")
            one["rabbitmq"] = self.publish_to_rabbitmq(rabbit_queue)
            rounds.append(one)
            print(f"send round {n + 1}: " + ", ".join(
                f"{k} {v['requests_per_second']:,.0f}/s" for k, v in one.items()
            ), file=sys.stderr)  # fmt: skip
        self.results["send"] = {"rounds": rounds, "median": median_of(rounds)}
        self.rabbit_queue = rabbit_queue

    def publish_to_rabbitmq(self, queue: str) -> dict[str, Any]:
        assert self.rabbit is not None
        result = self.wrk(self.rabbit.publish_url(), "rabbitmq_publish.lua", QUEUE=queue)
        # the management API's queue depth is a statistic refreshed every few seconds: count
        self.rabbit_published += result["requests"] - result["non_2xx"] - result.get("unrouted", 0)
        return result

    def batch_send(self) -> None:
        runs: dict[str, Any] = {}
        for name, batch in (("ems_sqlite", 100), ("ems_sqlite", 1000), ("ems_postgres", 100)):
            result = self.wrk(new_queue(self.servers[name]), "send_batch.lua", BATCH=str(batch))
            result["messages_per_second"] = per_second(result, batch=batch)
            runs[f"{name}_{batch}"] = result
            print(
                f"batch send {name} x{batch}: {result['messages_per_second']:,.0f} msgs/s",
                file=sys.stderr,
            )
        self.results["batch_send"] = runs

    def receive(self) -> None:
        assert self.rabbit is not None
        runs: dict[str, Any] = {}
        for name in ("ems_sqlite", "ems_postgres"):
            for batch in (1, 10):
                queue = new_queue(self.servers[name])
                prefill = (40_000 if batch > 1 else 15_000) * self.duration
                fill_rate = preload(queue, prefill)
                result = self.wrk(queue, "receive_delete.lua", BATCH=str(batch))
                result["messages_per_second"] = per_second(result, "deleted")
                result["prefill"] = prefill
                result["prefill_messages_per_second"] = round(fill_rate)
                runs[f"{name}_{batch}"] = result
                print(
                    f"receive {name} x{batch}: {result['messages_per_second']:,.0f} msgs/s",
                    file=sys.stderr,
                )
        # RabbitMQ: the queue the publish rounds filled, topped up so that the gets (if they
        # run up to 3x faster than the publishes) cannot run dry
        publish_rate = self.results["send"]["median"]["rabbitmq"]
        while self.rabbit_published < 3 * publish_rate * self.duration:
            self.publish_to_rabbitmq(self.rabbit_queue)
        depth = self.rabbit_published
        result = self.wrk(self.rabbit.get_url(self.rabbit_queue), "rabbitmq_get.lua", BATCH="1")
        result["messages_per_second"] = per_second(result, "got")
        result["depth_before"] = depth
        runs["rabbitmq_1"] = result
        print(
            f"receive rabbitmq: {result['messages_per_second']:,.0f} msgs/s (depth {depth})",
            file=sys.stderr,
        )
        self.results["receive"] = runs

    def e2e(self) -> None:
        self.results["e2e_1000"] = {
            name: ems_bench(
                self.servers[name].url, "e2e", "--rate", "1000", "--duration", str(self.duration)
            )
            for name in ("ems_sqlite", "ems_postgres")
        }
        for name, result in self.results["e2e_1000"].items():
            print(f"e2e {name}: p99 {result['latency_ms']['p99']} ms", file=sys.stderr)

    # scale, on a fresh SQLite server ------------------------------------------------------------

    def scale(self) -> None:
        for name in ("bare", "nginx", "ems_postgres"):
            self.servers.pop(name).stop()
        server = self.servers["ems_scale"] = targets.ems(self.workdir, "ems_scale")
        time.sleep(1)
        scale: dict[str, Any] = {"server": server.shown(), "idle_rss_mib": server.rss_mib()}
        polls = 1000 if self.quick else 10_000
        with peak_rss(server) as peak:
            scale["longpoll"] = ems_bench(
                server.url, "longpoll", "--polls", str(polls), "--duration", str(self.duration)
            )
        scale["longpoll"]["server_peak_rss_mib"] = peak["rss_mib"]
        print(f"{polls} long polls: peak RSS {peak['rss_mib']} MiB, wake-up p99 "
              f"{scale['longpoll']['latency_ms']['p99']} ms", file=sys.stderr)  # fmt: skip
        scale["queues"] = self.many_queues(server, 10_000 if self.quick else 100_000)
        scale["million"] = self.million(server, 100_000 if self.quick else 1_000_000)
        self.results["scale"] = scale

    def many_queues(self, server: targets.Process, count: int) -> dict[str, Any]:
        started = time.monotonic()
        target = Target("127.0.0.1", server.port, "")
        queue_ids = asyncio.run(create_queues(target, count))
        seconds = time.monotonic() - started

        async def send_to_some() -> int:
            connection = RawConnection("127.0.0.1", server.port)
            ok = 0
            for queue_id in random.sample(queue_ids, 200):
                status, _ = await connection.request("POST", f"/ems/queue/{queue_id}/message", b"x")
                ok += status == 201
            await connection.close()
            return ok

        sent_ok = asyncio.run(send_to_some())
        send = self.wrk(f"{server.url}/ems/queue/{queue_ids[-1]}/message", "send.lua")
        result = {
            "queues": count,
            "created_per_second": round(count / seconds),
            "rss_mib": server.rss_mib(),
            "sends_to_random_queues_ok": f"{sent_ok}/200",
            "send": send,
        }
        print(f"{count} queues: {result['created_per_second']}/s, RSS {result['rss_mib']} MiB, "
              f"send {send['requests_per_second']:,.0f}/s", file=sys.stderr)  # fmt: skip
        return result

    def million(self, server: targets.Process, count: int) -> dict[str, Any]:
        queue = new_queue(server)
        fill_rate = preload(queue, count)
        send = self.wrk(queue + "/message", "send.lua")
        receive = self.wrk(queue, "receive_delete.lua", BATCH="1")
        receive["messages_per_second"] = per_second(receive, "deleted")
        print(f"{count} waiting: send {send['requests_per_second']:,.0f}/s, receive "
              f"{receive['messages_per_second']:,.0f}/s", file=sys.stderr)  # fmt: skip
        return {
            "messages": count,
            "fill_messages_per_second": round(fill_rate),
            "send": send,
            "receive_delete_1": receive,
        }

    # profiles of what missed its bar ----------------------------------------------------------

    def profile(self, bars: list[dict[str, Any]]) -> None:
        server = self.servers["ems_sqlite"]
        seconds = max(5, self.duration)
        recipes: dict[str, Callable[[], Any]] = {
            "send": lambda: self.wrk(new_queue(server) + "/message", "send.lua", seconds),
            "batch": lambda: self.wrk(new_queue(server), "send_batch.lua", seconds, BATCH="100"),
            "receive": lambda: self.receive_for_profile(server, seconds),
            "e2e": lambda: ems_bench(
                server.url, "e2e", "--rate", "1000", "--duration", str(seconds)
            ),
        }
        done: dict[str, dict[str, Any]] = {}
        for bar in bars:
            recipe = bar.get("profile_recipe")
            if bar["met"] or recipe is None:
                continue
            if recipe not in done:
                output = self.workdir / f"profile-{recipe}.txt"
                _, done[recipe] = profiled(server.pid, seconds, output, recipes[recipe])
                done[recipe]["load"] = recipe
            bar["profile"] = done[recipe]

    def receive_for_profile(self, server: targets.Process, seconds: int) -> dict[str, Any]:
        queue = new_queue(server)
        preload(queue, 15_000 * seconds)
        return self.wrk(queue, "receive_delete.lua", seconds, BATCH="1")

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        if self.database is not None:
            self.database.drop()
        if self.rabbit is not None:
            self.rabbit.delete_queues()


def median_of(rounds: list[dict[str, Any]]) -> dict[str, float]:
    medians = {}
    for name in rounds[0]:
        values = sorted(r[name]["requests_per_second"] for r in rounds)
        middle = len(values) // 2
        medians[name] = (
            values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        )
    return medians


def machine_and_versions(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    machine = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "open_file_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False).stderr
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    versions: dict[str, Any] = {
        "ems": version(DISTRIBUTION),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "uvloop": version("uvloop"),
        "httptools": version("httptools"),
        "sqlite": sqlite3.sqlite_version,
        "asyncpg": version("asyncpg"),
        "postgres": run.database.version() if run.database else None,
        "nginx": nginx.strip().rsplit("/", 1)[-1],
        "wrk": wrk.split("[")[0].replace("wrk", "").strip(),
    }
    if run.rabbit is not None:
        versions.update(run.rabbit.version())
    return machine, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the send comparison")
    parser.add_argument(
        "--note", default="", help="said with the results (e.g. the machine was shared)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller scale figures (for trying it)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "side-by-side.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--from-json", type=Path, help="only write docs and charts from results")
    args = parser.parse_args()
    ensure_python("matplotlib")
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        if args.note:  # said after the run, e.g. what else was running on the machine
            results["note"] = args.note
            args.from_json.write_text(json.dumps(results, indent=2) + "\n")
        sbs_report.write(results, args.docs, args.img)
        return
    if py_spy() is None:
        ensure_python("py-spy")
    targets.ensure_debian("wrk", "nginx")
    raise_file_limit()
    workdir = Path(tempfile.mkdtemp(prefix="ems-side-by-side-"))
    run = Run(args, workdir)
    started = time.monotonic()
    try:
        run.start()
        machine, versions = machine_and_versions(run)
        run.results.update(
            machine=machine,
            versions=versions,
            note=args.note,
            duration_s=args.duration,
            connections=args.connections,
            wrk_threads=sbs_wrk.THREADS,
            quick=args.quick,
            servers={name: server.shown() for name, server in run.servers.items()},
        )
        run.send()
        run.batch_send()
        run.receive()
        run.e2e()
        run.scale()
        run.results["ratios"] = sbs_report.ratios(run.results)
        run.results["bars"] = bars = sbs_report.bars(run.results)
        run.profile(bars)
    finally:
        run.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    run.results["run_seconds"] = round(time.monotonic() - started)
    run.results["machine"]["load_average_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run.results, indent=2) + "\n")
    sbs_report.write(run.results, args.docs, args.img)
    print(sbs_report.bars_table(run.results["bars"]))


if __name__ == "__main__":
    main()
