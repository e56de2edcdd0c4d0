"""Broadcast: publish once to a topic, and every subscribed queue gets its own copy.

A queue hands each message to one consumer; to tell *every* interested system, publish to a
topic instead. Each subscriber has its own queue, subscribed to the topic, and consumes it at its
own pace; a publish is stored in all of them in one durable transaction, and the answer says how
many queues it reached. Subscribers that are offline miss nothing: their copies wait in their
queues.

Run it::

    ems serve                       # in one terminal
    python examples/broadcast.py    # in another (--url or EMS_URL for elsewhere)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ems import Client, TransportError


def drain(client: Client, receive_id: str, expected: int) -> list[str]:
    """What one subscriber receives: up to ``expected`` messages, in arrival order."""
    received: list[str] = []
    deadline = time.monotonic() + 30
    while len(received) < expected and time.monotonic() < deadline:
        messages = client.receive(receive_id, max_messages=10, wait_seconds=5)
        received += [message.text for message in messages]
        if messages:
            client.delete_batch(receive_id, [message.receipt_handle for message in messages])
    return received


def run(client: Client, subscribers: int, count: int) -> bool:
    topic = client.create_topic()
    queues = [client.create_queue() for _ in range(subscribers)]
    try:
        for queue in queues:  # a queue subscribes with its send_id: the topic may only send to it
            client.subscribe_queue(topic.topic_id, queue.send_id)
        sent = [f"news #{i}" for i in range(count)]
        reached = [client.publish(topic.topic_id, body).queues for body in sent]
        print(f"published {count} messages, each stored in {min(reached)} queues")
        ok = all(n == subscribers for n in reached)
        for i, queue in enumerate(queues):
            received = drain(client, queue.receive_id, count)
            print(f"subscriber {i}: received {len(received)} messages")
            ok = ok and sorted(received) == sorted(sent)
    finally:
        client.delete_topic(topic.topic_id)
        for queue in queues:
            client.delete_queue(queue.queue_id)
    print("every subscriber received every message: " + ("OK" if ok else "FAILED"))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--subscribers", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        with Client(args.url) as client:
            return 0 if run(client, args.subscribers, args.messages) else 1
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2


if __name__ == "__main__":
    sys.exit(main())
