"""Shorten response time: a web handler enqueues the work and answers at once.

A request handler that does slow work itself makes every user wait for it. Instead the handler
sends a job to a queue, with a correlation id and a ``reply-to`` attribute naming a response
queue, and answers immediately ("202 Accepted, ticket <id>"). Workers take the jobs at their own
pace; an ``ems.Worker`` sends each handler's return value to the ``reply-to`` queue with the
job's correlation id. The client then fetches *its* result from the shared response queue by
correlation id (``receive(..., correlation_id=ticket)``), or does both at once with
``Client.request``.

Run it::

    ems serve                                   # in one terminal
    python examples/shorten_response_time.py    # in another (--url or EMS_URL for elsewhere)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

from ems import Client, Message, TransportError, Worker

WORK_SECONDS = 1.0  # what the slow part of a request costs


def slow_work(message: Message) -> str:
    """The worker's handler: its return value is the reply."""
    time.sleep(WORK_SECONDS)
    return f"thumbnail of {message.text}"


def web_handler(client: Client, jobs_send_id: str, replies_send_id: str, photo: str) -> str:
    """What a web request does: enqueue the job and answer with a ticket, without waiting."""
    ticket = uuid.uuid4().hex
    client.send(
        jobs_send_id, photo, correlation_id=ticket, attributes={"reply-to": replies_send_id}
    )
    return ticket


def run(client: Client, requests: int) -> bool:
    jobs = client.create_queue(visibility_timeout=30)
    replies = client.create_queue()
    # two workers (think: two machines), each running five jobs at a time
    workers = [
        Worker(client, jobs.receive_id, slow_work, concurrency=5, wait_seconds=1) for _ in range(2)
    ]
    threads = [worker.start() for worker in workers]
    try:
        answer_times: list[float] = []
        tickets: dict[str, str] = {}
        for i in range(requests):
            started = time.monotonic()
            ticket = web_handler(client, jobs.send_id, replies.send_id, f"photo-{i}.jpg")
            answer_times.append(time.monotonic() - started)
            tickets[ticket] = f"thumbnail of photo-{i}.jpg"
        mean_ms, max_ms = statistics.mean(answer_times) * 1000, max(answer_times) * 1000
        print(
            f"handler answered {requests} requests: mean {mean_ms:.1f} ms, max {max_ms:.1f} ms "
            f"(each job takes {WORK_SECONDS:.1f} s)"
        )

        started = time.monotonic()
        correct = 0
        for ticket, expected in tickets.items():  # each client polls for its own result
            found = client.receive(replies.receive_id, correlation_id=ticket, wait_seconds=20)
            if found and found[0].text == expected:
                client.delete(replies.receive_id, found[0].receipt_handle)
                correct += 1
        print(
            f"{correct}/{requests} results fetched by ticket, all within "
            f"{time.monotonic() - started:.1f} s ({requests} × {WORK_SECONDS:.0f} s of work)"
        )

        # or, when a caller can wait: send and wait for the reply in one call
        reply = client.request(
            jobs.send_id,
            "avatar.png",
            reply_queue_id=replies.receive_id,
            reply_to=replies.send_id,
            timeout=30,
        )
        print(f"Client.request: {reply.text!r}")
        fast = statistics.mean(answer_times) < WORK_SECONDS
        ok = correct == requests and reply.text == "thumbnail of avatar.png" and fast
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(30)
        client.delete_queue(jobs.queue_id)
        client.delete_queue(replies.queue_id)

    print("OK" if ok else "FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    try:
        with Client(args.url) as client:
            return 0 if run(client, args.requests) else 1
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2


if __name__ == "__main__":
    sys.exit(main())
