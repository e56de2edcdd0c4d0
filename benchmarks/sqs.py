"""boto3 send/receive throughput against EMS's SQS API, beside moto's server mode.

Starts ``ems serve`` (SQLite, a temporary directory) and ``moto_server`` on free loopback ports,
then for each: CLIENTS threads, each with its own boto3 client, send single messages for
SECONDS; then receive (10 at a time) and delete in batches for SECONDS. Prints messages/second as
JSON, with EMS/moto ratios. Installs ``moto[server]`` with pip if it is missing.

    python benchmarks/sqs.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

# (no drain for a balancer when the benchmark stops it)
EMS_SERVE = [sys.executable, "-m", "ems", "serve", "--drain-seconds", "0"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it answers HTTP on ``port``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command[2]} did not start")


def client(url: str) -> Any:
    return boto3.client(
        "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def run_threads(count: int, seconds: float, work: Any) -> int:
    totals = [0] * count
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < deadline:
            totals[i] += work(i)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(totals)


def measure(url: str, seconds: float, clients: int) -> dict[str, float]:
    queue_url = client(url).create_queue(QueueName=f"bench-{os.getpid()}-{free_port()}")["QueueUrl"]
    senders = [client(url) for _ in range(clients)]

    def send(i: int) -> int:
        senders[i].send_message(QueueUrl=queue_url, MessageBody="x" * 100)
        return 1

    sent = run_threads(clients, seconds, send)

    def receive(i: int) -> int:
        got = senders[i].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if messages:
            senders[i].delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                         for n, m in enumerate(messages)],
            )  # fmt: skip
        return len(messages)

    received = run_threads(clients, seconds, receive)
    return {"send_per_s": sent / seconds, "receive_delete_per_s": received / seconds}


def ensure_moto() -> None:
    if importlib.util.find_spec("moto") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "moto[server]"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    ensure_moto()
    with tempfile.TemporaryDirectory() as directory:
        servers = {
            "ems": [*EMS_SERVE, "--data-dir", str(Path(directory))],
            "moto": [sys.executable, "-m", "moto.server"],
        }
        for name, command in servers.items():
            port = free_port()
            flag = "--port" if name == "ems" else "-p"
            process = start([*command, flag, str(port)], port)
            try:
                results[name] = measure(f"http://127.0.0.1:{port}", args.seconds, args.clients)
            finally:
                process.terminate()
                process.wait(30)
    results["ratio_ems_to_moto"] = {
        k: round(results["ems"][k] / results["moto"][k], 2) for k in results["ems"]
    }
    results["settings"] = {"seconds": args.seconds, "clients": args.clients}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
