"""Secure sharing: end-to-end encrypted messages, with the key handed over through EMS itself.

The producer makes a Fernet key locally (``client.random_key()``: nothing goes to the server)
and hands it to the consumer over an *exclusive* queue: a fresh queue whose ``send_id`` only the
producer gets and whose ``receive_id`` only the consumer gets. Once the consumer has taken the
key, the queue is deleted, so the key is stored nowhere any more. Then the producer encrypts
each payload locally (``client.encrypt``) and sends the token over the data queue; the consumer
decrypts locally. The server only ever stores Fernet tokens, never the plaintext, as a peek at
the data queue shows.

Run it::

    ems serve                            # in one terminal
    python examples/secure_sharing.py    # in another (--url or EMS_URL for elsewhere)
"""

from __future__ import annotations

import argparse
import os
import sys

from ems import Client, TransportError
from ems.client.errors import DecryptionFailed, QueueNotFound

SECRETS = ["patient 17: blood type AB-", "launch code 0000", "the cake is a lie"]


def hand_over_key(coordinator: Client, producer: Client, consumer: Client) -> tuple[str, str]:
    """The producer's local key reaches the consumer over an exclusive queue, then it is gone."""
    key_queue = coordinator.create_queue()
    key = producer.random_key()  # made locally, never sent to the server's crypto service
    producer.send(key_queue.send_id, key)  # the producer holds only the send_id,
    [message] = consumer.receive(key_queue.receive_id, wait_seconds=10)  # the consumer only
    consumer.delete(key_queue.receive_id, message.receipt_handle)  # the receive_id
    coordinator.delete_queue(key_queue.queue_id)
    try:
        producer.send(key_queue.send_id, "another key?")
    except QueueNotFound:
        print("the key is handed over, and the key queue is deleted")
        return key, message.text
    raise AssertionError("the key queue still exists")


def server_sees_only_tokens(coordinator: Client, data_queue_id: str) -> bool:
    """Peek at what the server stores: Fernet tokens ("gAAAAA..."), never the plaintext."""
    stored = [m["body"] for m in coordinator.peek(data_queue_id, max_messages=100)["messages"]]
    print(f"the server stores {len(stored)} bodies such as {stored[0][:40]}...")
    try:
        coordinator.decrypt(coordinator.random_key(), stored[0])
        return False  # a token must not decrypt with any other key
    except DecryptionFailed:
        pass
    return len(stored) == len(SECRETS) and all(
        body.startswith("gAAAAA") and not any(s in body for s in SECRETS) for body in stored
    )


def run(url: str) -> bool:
    # three parties, three clients: a coordinator that owns the queues, a producer, a consumer
    with Client(url) as coordinator, Client(url) as producer, Client(url) as consumer:
        producer_key, consumer_key = hand_over_key(coordinator, producer, consumer)
        data = coordinator.create_queue()
        try:
            for secret in SECRETS:  # the producer encrypts locally and sends only the token
                producer.send(data.send_id, producer.encrypt(producer_key, secret))
            opaque = server_sees_only_tokens(coordinator, data.queue_id)
            print(f"no plaintext on the server: {opaque}")
            received: list[str] = []  # the consumer receives and decrypts locally
            while len(received) < len(SECRETS):
                messages = consumer.receive(data.receive_id, max_messages=10, wait_seconds=10)
                if not messages:
                    break
                for message in messages:
                    received.append(consumer.decrypt(consumer_key, message.text).decode())
                    consumer.delete(data.receive_id, message.receipt_handle)
            print(f"the consumer decrypted: {received}")
        finally:
            coordinator.delete_queue(data.queue_id)
    ok = opaque and sorted(received) == sorted(SECRETS)
    print("OK" if ok else "FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args(argv)
    try:
        return 0 if run(args.url) else 1
    except AssertionError as error:
        print(f"FAILED: {error}")
        return 1
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
        return 2


if __name__ == "__main__":
    sys.exit(main())
