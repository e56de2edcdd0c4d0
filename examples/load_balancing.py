"""Load balancing: competing workers share one queue, and a worker's crash loses nothing.

Workers pull, so each takes work at its own pace: a fast worker simply takes more. A received
message is only hidden for the queue's visibility timeout (2 s here) until the worker deletes it
after processing, so when a worker dies mid-job (``kill -9``), its message reappears and another
worker processes it. Every job is processed at least once; a job may be processed twice (make
handlers idempotent). Each worker here is a separate process that records what it did in a
results queue; the main program kills the slow one mid-run and checks that no job was lost.

Run it::

    ems serve                            # in one terminal
    python examples/load_balancing.py    # in another (--url or EMS_URL for elsewhere)
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from ems import Client, Message, TransportError, Worker


def work(url: str, jobs: str, results: str, name: str, seconds: float) -> int:
    """One worker process: take jobs until SIGTERM, record each one in the results queue."""
    with Client(url) as client:

        def handle(message: Message) -> None:
            time.sleep(seconds)
            attributes = {"worker": name, "receive-count": str(message.receive_count)}
            client.send(results, message.body, attributes=attributes)

        worker = Worker(client, jobs, handle, concurrency=1, wait_seconds=1, visibility_timeout=2)
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())  # graceful: finish the job
        worker.run()
    return 0


def start_worker(
    url: str, jobs: str, results: str, name: str, seconds: float
) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--url", url, "--worker", name, "--seconds", str(seconds)]
    return subprocess.Popen([*command, f"--jobs={jobs}", f"--results={results}"])  # noqa: S603


def run(client: Client, url: str, count: int) -> bool:
    jobs = client.create_queue(visibility_timeout=2)
    results = client.create_queue()
    client.send_batch(jobs.send_id, [f"job {i}" for i in range(count)])
    fast = start_worker(url, jobs.receive_id, results.send_id, "fast", 0.1)
    slow = start_worker(url, jobs.receive_id, results.send_id, "slow", 0.5)
    done: set[str] = set()
    by_worker: Counter[str] = Counter()
    redelivered = 0
    deadline = time.monotonic() + 90
    try:
        while len(done) < count and time.monotonic() < deadline:
            for message in client.receive(results.receive_id, max_messages=10, wait_seconds=1):
                done.add(message.text)
                by_worker[message.attributes["worker"]] += 1
                redelivered += message.attributes["receive-count"] != "1"
                client.delete(results.receive_id, message.receipt_handle)
            if by_worker["slow"] >= 2 and slow.poll() is None:
                time.sleep(0.25)  # let it take its next job...
                slow.kill()  # ...and kill -9 it in the middle of that job
                slow.wait()
                print(f"killed the slow worker after {len(done)} of {count} jobs")
    finally:
        for process in (fast, slow):
            process.terminate()
        for process in (fast, slow):
            process.wait(30)
        client.delete_queue(jobs.queue_id)
        client.delete_queue(results.queue_id)
    print(f"processed by worker: {dict(by_worker)}; {redelivered} job(s) delivered again")
    ok = len(done) == count and slow.returncode == -signal.SIGKILL
    print(f"{len(done)}/{count} distinct jobs processed: " + ("OK" if ok else "FAILED"))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--jobs-count", type=int, default=60)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # these start one worker process
    parser.add_argument("--jobs", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.worker:
            return work(args.url, args.jobs, args.results, args.worker, args.seconds)
        with Client(args.url) as client:
            return 0 if run(client, args.url, args.jobs_count) else 1
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2


if __name__ == "__main__":
    sys.exit(main())
