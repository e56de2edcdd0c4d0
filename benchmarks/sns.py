"""boto3 SNS Publish against EMS's SNS API, beside moto's server mode; publish-to-delivery
latency for an SQS subscription and an HTTP one.

Starts ``ems serve`` (SQLite, a temporary directory, webhooks allowed to loopback) and
``moto_server`` on free loopback ports, then for each:

- throughput: CLIENTS threads, each with its own boto3 client, publish single messages for
  SECONDS to a topic with one SQS subscription (raw delivery);
- latency: one client publishes SAMPLES messages, 20 ms apart, to a topic with an SQS
  subscription (a long-polling receiver thread notes each arrival) and an HTTP subscription (a
  loopback endpoint notes each arrival); the time from calling Publish to the arrival.

Prints JSON: publishes/second, latency percentiles in ms, and EMS/moto ratios. Installs
``moto[server]`` with pip if it is missing.

    python benchmarks/sns.py [--seconds 5] [--clients 4] [--samples 100]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from sqs import EMS_SERVE, ensure_moto, free_port, run_threads, start


def client(url: str, service: str = "sns") -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
        aws_secret_access_key="bench", config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def queue_subscription(url: str, topic: str, name: str) -> str:
    sqs, sns = client(url, "sqs"), client(url)
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"],
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    return queue_url


def throughput(url: str, seconds: float, clients: int) -> float:
    topic = client(url).create_topic(Name=f"bench-{os.getpid()}-{free_port()}")["TopicArn"]
    queue_subscription(url, topic, f"bench-q-{os.getpid()}-{free_port()}")
    publishers = [client(url) for _ in range(clients)]

    def publish(i: int) -> int:
        publishers[i].publish(TopicArn=topic, Message="x" * 100)
        return 1

    return run_threads(clients, seconds, publish) / seconds


class Endpoint:
    """Notes when each message arrives (HTTP); confirms subscriptions through SubscribeURL."""

    def __init__(self, arrivals: dict[str, float]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                at = time.perf_counter()
                try:
                    document = json.loads(body)
                except ValueError:
                    document = {"Type": "raw", "Message": body.decode()}
                if document.get("Type") == "SubscriptionConfirmation":
                    httpx.get(document["SubscribeURL"], timeout=5)
                else:
                    arrivals.setdefault(document.get("Message", ""), at)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


def _percentiles(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "delivered": len(ordered),
    }


def latency(url: str, samples: int) -> dict[str, Any]:
    sns = client(url)
    topic = sns.create_topic(Name=f"latency-{os.getpid()}-{free_port()}")["TopicArn"]
    queue_url = queue_subscription(url, topic, f"latency-q-{os.getpid()}-{free_port()}")
    http_arrivals: dict[str, float] = {}
    endpoint = Endpoint(http_arrivals)
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    time.sleep(1)  # the confirmation round trip
    queue_arrivals: dict[str, float] = {}
    stop = threading.Event()

    def receive() -> None:
        sqs = client(url, "sqs")
        while not stop.is_set():
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=1)  # fmt: skip
            at = time.perf_counter()
            for message in got.get("Messages", []):
                queue_arrivals.setdefault(message["Body"], at)

    receiver = threading.Thread(target=receive)
    receiver.start()
    sent: dict[str, float] = {}
    for i in range(samples):
        sent[f"m{i}"] = time.perf_counter()
        sns.publish(TopicArn=topic, Message=f"m{i}")
        time.sleep(0.02)
    time.sleep(3)
    stop.set()
    receiver.join()
    endpoint.server.shutdown()
    return {
        "sqs_subscription": _percentiles(
            [queue_arrivals[k] - t for k, t in sent.items() if k in queue_arrivals]
        ),
        "http_subscription": _percentiles(
            [http_arrivals[k] - t for k, t in sent.items() if k in http_arrivals]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    ensure_moto()
    with tempfile.TemporaryDirectory() as directory:
        servers = {
            "ems": [*EMS_SERVE, "--data-dir", str(Path(directory)), "--webhook-allow-private"],
            "moto": [sys.executable, "-m", "moto.server"],
        }
        for name, command in servers.items():
            port = free_port()
            flag = "--port" if name == "ems" else "-p"
            process = start([*command, flag, str(port)], port)
            try:
                base = f"http://127.0.0.1:{port}"
                results[name] = {
                    "publish_per_s": round(throughput(base, args.seconds, args.clients), 1),
                    "latency": latency(base, args.samples),
                }
            finally:
                process.terminate()
                process.wait(30)
    results["ratio_ems_to_moto"] = {
        "publish_per_s": round(
            results["ems"]["publish_per_s"] / results["moto"]["publish_per_s"], 2
        )
    }
    results["settings"] = vars(args)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
