"""Process manager: scatter a process over several services, gather, then commit or roll back.

Booking a trip needs a flight, a hotel and a car, each from its own service with its own queue.
The process manager gives the trip a process id and sends each service a ``reserve`` command
with that id as correlation id and a ``reply-to`` naming one shared response queue (scatter).
It then receives the answers for *this* process by correlation id (gather). If every service
reserved, it sends ``commit`` to all; if any refused (or did not answer in time), it sends a
compensating ``cancel`` to the others, so no half-booked trip is left behind. Compensations must
be idempotent: a service may get a cancel for something it never reserved.

Run it::

    ems serve                                    # in one terminal
    python examples/process_manager.py           # in another: every service agrees
    python examples/process_manager.py --fail    # the hotel is full: the trip is rolled back
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

from ems import Client, Message, TransportError, Worker

STATES = {"reserve": "reserved", "commit": "committed", "cancel": "cancelled"}


class Service:
    """A service behind its own queue; its Worker replies to each command with ok or not."""

    def __init__(self, client: Client, name: str, *, refuse: bool = False) -> None:
        self.name, self.refuse = name, refuse
        self.queue = client.create_queue()
        self.bookings: dict[str, str] = {}  # process id -> reserved, committed or cancelled
        self.worker = Worker(client, self.queue.receive_id, self.handle, wait_seconds=1)

    def handle(self, message: Message) -> str:
        action, process = json.loads(message.body)["action"], message.correlation_id or ""
        if action == "reserve" and self.refuse:
            return json.dumps({"service": self.name, "ok": False})
        self.bookings[process] = STATES[action]
        return json.dumps({"service": self.name, "ok": True})


def scatter(
    client: Client, services: list[Service], process: str, action: str, reply_to: str
) -> None:
    for service in services:
        body = json.dumps({"action": action})
        client.send(
            service.queue.send_id, body, correlation_id=process, attributes={"reply-to": reply_to}
        )


def gather(client: Client, replies: str, process: str, expected: int) -> dict[str, bool]:
    answers: dict[str, bool] = {}
    deadline = time.monotonic() + 30
    while len(answers) < expected and time.monotonic() < deadline:
        for reply in client.receive(
            replies, correlation_id=process, max_messages=10, wait_seconds=5
        ):
            answer = json.loads(reply.body)
            answers[answer["service"]] = answer["ok"]
            client.delete(replies, reply.receipt_handle)
    return answers


def book_trip(
    client: Client, services: list[Service], process: str, replies_send: str, replies: str
) -> bool:
    scatter(client, services, process, "reserve", replies_send)
    answers = gather(client, replies, process, len(services))
    print(f"process {process[:8]}: reserve -> {answers}")
    if len(answers) == len(services) and all(answers.values()):
        scatter(client, services, process, "commit", replies_send)
        print(f"process {process[:8]}: commit -> {gather(client, replies, process, len(services))}")
        return True
    # compensate: cancel everywhere it may have been reserved (all but explicit refusals)
    undo = [service for service in services if answers.get(service.name) is not False]
    scatter(client, undo, process, "cancel", replies_send)
    print(f"process {process[:8]}: cancel -> {gather(client, replies, process, len(undo))}")
    return False


def run(client: Client, fail: bool) -> bool:
    services = [
        Service(client, "flight"),
        Service(client, "hotel", refuse=fail),
        Service(client, "car"),
    ]
    replies = client.create_queue()
    threads = [service.worker.start() for service in services]
    try:
        process = uuid.uuid4().hex  # the process id: every message of this trip carries it
        committed = book_trip(client, services, process, replies.send_id, replies.receive_id)
    finally:
        for service in services:
            service.worker.stop()
        for thread in threads:
            thread.join(30)
        for queue in [replies, *(service.queue for service in services)]:
            client.delete_queue(queue.queue_id)
    states = {service.name: service.bookings.get(process, "nothing") for service in services}
    print(f"the trip was {'committed' if committed else 'rolled back'}; bookings: {states}")
    if fail:  # nothing may stay reserved or committed anywhere
        return not committed and all(s in ("nothing", "cancelled") for s in states.values())
    return committed and all(s == "committed" for s in states.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--fail", action="store_true", help="the hotel refuses: roll back")
    args = parser.parse_args(argv)
    try:
        with Client(args.url) as client:
            ok = run(client, args.fail)
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
