"""The blocking client and Worker against a real ``ems serve``."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from cryptography.fernet import Fernet

from ems.client import Client, Message, Worker, errors, verify_webhook
from ems.client.webhooks import InvalidSignature
from ems.delivery.signing import signature_headers


def test_round_trip_and_scoped_ids(client: Client) -> None:
    queue = client.create_queue()
    client.send(queue.send_id, "Hello World")
    [message] = client.receive(queue.receive_id, wait_seconds=1)
    assert message.text == "Hello World"
    client.delete(queue.receive_id, message.receipt_handle)
    with pytest.raises(errors.WrongCapability):
        client.send(queue.receive_id, "no")
    rotated = client.rotate_queue(queue.queue_id)
    with pytest.raises(errors.QueueNotFound):
        client.send(queue.send_id, "old id")
    client.send(rotated["send_id"], "new id")
    client.purge_queue(queue.queue_id)
    assert client.get_queue(queue.queue_id).messages_visible == 0


def test_long_poll_returns_when_a_message_arrives(client: Client) -> None:
    queue = client.create_queue()

    def send_later() -> None:
        with Client(client.url) as other:
            other.send(queue.queue_id, "late")

    threading.Timer(0.3, send_later).start()
    started = time.monotonic()
    [message] = client.receive(queue.queue_id, wait_seconds=10)
    assert message.text == "late"
    assert time.monotonic() - started < 5


def test_crypto_is_local_by_default_and_interoperates_with_the_server(client: Client) -> None:
    key = client.random_key()
    Fernet(key)  # a real Fernet key
    local_token = client.encrypt(key, b"secret payload")
    assert client.decrypt(key, local_token, server=True) == b"secret payload"
    server_token = client.encrypt(key, b"from the server", server=True)
    assert client.decrypt(key, server_token) == b"from the server"
    other = client.random_key(server=True)
    for server_side in (False, True):
        with pytest.raises(errors.DecryptionFailed):
            client.decrypt(other, local_token, server=server_side)
        with pytest.raises(errors.InvalidKey):
            client.encrypt("not a key", b"x", server=server_side)


def test_unreachable_server_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}") as client, pytest.raises(errors.TransportError):
        client.create_queue()


def test_mock_transport_maps_unknown_problems_by_status() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            headers={"retry-after": "3", "content-type": "application/problem+json"},
            json={"type": "/ems/problems/something-new", "title": "Slow down", "detail": "d"},
        )

    client = Client("http://x", transport=httpx.MockTransport(answer))
    with client, pytest.raises(errors.TooManyRequests) as caught:
        client.send("q" * 24, "x")
    assert caught.value.retry_after == 3.0
    assert caught.value.slug == "something-new"


def test_worker_processes_replies_and_stops_gracefully(client: Client) -> None:
    jobs = client.create_queue()
    replies = client.create_queue()
    started = threading.Event()

    def handle(message: Message) -> str | None:
        if message.text == "slow":
            started.set()
            time.sleep(1.0)
        return message.text.upper() if message.correlation_id else None

    worker = Worker(client, jobs.receive_id, handle, concurrency=4, wait_seconds=1)
    thread = worker.start()
    reply = client.request(
        jobs.send_id, "ping", reply_queue_id=replies.queue_id, reply_to=replies.send_id
    )
    assert reply.text == "PING"
    client.send_batch(jobs.send_id, [f"m{i}" for i in range(30)])
    deadline = time.monotonic() + 10
    while worker.processed < 31 and time.monotonic() < deadline:
        time.sleep(0.05)
    client.send(jobs.send_id, "slow")
    assert started.wait(5)
    worker.stop()  # the slow handler is running: it finishes and its message is deleted
    thread.join(10)
    assert not thread.is_alive()
    assert worker.processed == 32
    info = client.get_queue(jobs.queue_id)
    assert (info.messages_visible, info.messages_in_flight) == (0, 0)


def test_a_queue_label_round_trips(client: Client) -> None:
    queue = client.create_queue(label="invoices")
    assert client.get_queue(queue.queue_id).label == "invoices"
    assert client.update_queue(queue.queue_id, label=None).label is None


def test_worker_keeps_long_jobs_leased(client: Client) -> None:
    queue = client.create_queue()
    client.send(queue.queue_id, "long job")
    counts: list[int] = []
    working = threading.Event()

    def handle(message: Message) -> None:
        counts.append(message.receive_count)
        working.set()
        time.sleep(3.5)  # longer than the 2 s visibility timeout

    worker = Worker(client, queue.queue_id, handle, visibility_timeout=2, wait_seconds=1)
    thread = worker.start()
    assert working.wait(5)
    # a second consumer does not get the message while the worker extends its lease
    assert client.receive(queue.queue_id, wait_seconds=3) == []
    worker.stop()
    thread.join(10)
    assert counts == [1]
    assert worker.processed == 1
    assert client.get_queue(queue.queue_id).messages_in_flight == 0


def test_failing_messages_retry_then_go_to_the_dead_letter_queue(client: Client) -> None:
    dead = client.create_queue()
    queue = client.create_queue(dead_letter={"queue_id": dead.queue_id, "max_receives": 2})
    client.send(queue.queue_id, "poison")

    def fail(message: Message) -> None:
        raise RuntimeError("cannot process")

    worker = Worker(client, queue.queue_id, fail, wait_seconds=1, retry_delay=0)
    thread = worker.start()
    [message] = client.receive(dead.queue_id, wait_seconds=10)
    worker.stop()
    thread.join(10)
    assert message.text == "poison"
    assert worker.failed == 2


def test_verify_webhook() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"hello": "world"}'
    headers = signature_headers(secret, "msg_1", body)
    verify_webhook(secret, headers, body)
    with pytest.raises(InvalidSignature):
        verify_webhook(secret, headers, body + b" ")


def test_the_documented_error_module_is_the_clients(client: Client) -> None:
    import ems
    import ems.errors

    assert ems.errors.ClientError is errors.ClientError
    with pytest.raises(ems.errors.QueueNotFound) as raised:
        client.get_queue("x" * 24)
    assert isinstance(raised.value, ems.errors.NotFound)
    assert raised.value.status == 404


def test_redrive(client: Client) -> None:
    dlq = client.create_queue().queue_id
    source = client.create_queue(
        visibility_timeout=0, dead_letter={"queue_id": dlq, "max_receives": 1}
    ).queue_id
    with pytest.raises(errors.NotADeadLetterQueue):
        client.start_redrive(source)
    client.send_batch(source, ["a", "b"])
    client.receive(source, max_messages=10)
    assert client.receive(source, max_messages=10) == []
    target = client.create_queue()
    started = client.start_redrive(
        dlq, destination_queue_id=target.send_id, max_messages_per_second=1
    )
    assert (started.status, started.messages_to_move, started.active) == ("RUNNING", 2, True)
    with pytest.raises(errors.MoveTaskRunning):
        client.start_redrive(dlq)
    assert client.cancel_redrive(dlq).status == "CANCELLING"
    for _ in range(100):
        shown = client.get_redrive(dlq)
        if not shown.active:
            break
        time.sleep(0.05)
    assert shown.status == "CANCELLED"
    with pytest.raises(errors.MoveTaskNotFound):
        client.cancel_redrive(dlq)
