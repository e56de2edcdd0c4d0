"""No phantom messages: a write whose body did not arrive whole stores nothing.

A client that sends the headers of a send and resets the connection used to leave an EMPTY
message (the server handed the application a disconnect where a body was due, and it read that
as an empty body); topics fanned it out. Here every write route is abandoned at every byte of
its body, by a reset and by a close, on both backends, and then nothing may be stored.
"""

from __future__ import annotations

import functools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.server import EmsServer
from tests.hostile.raw_http import exchange, request_head, send_and_abandon

pytestmark = pytest.mark.e2e
SQS_JSON = "application/x-amz-json-1.0"


@dataclass(frozen=True)
class Write:
    """One write route, ready to send: where its messages land, and the request."""

    name: str
    queue_id: str  # the queue the write stores into
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def request(self, body: bytes | None = None) -> bytes:
        data = self.body if body is None else body
        return request_head(self.method, self.path, self.headers, len(self.body)) + data


def writes(server: EmsServer) -> list[Write]:
    """Every kind of write, each into a fresh queue of its own."""
    found = []
    with httpx.Client(base_url=server.url) as http:

        def new_queue() -> tuple[str, str]:
            created = http.post("/ems/queue").json()
            return created["queue_id"], created["send_id"]

        queue, send_id = new_queue()
        path = f"/ems/queue/{send_id}/message"
        found.append(Write("send", queue, "POST", path, {}, b"hello world"))
        queue, send_id = new_queue()
        batch = json.dumps({"messages": [{"body": "hello"}, {"body": "world"}]}).encode()
        found.append(Write("batch", queue, "POST", f"/ems/queue/{send_id}/messages", {}, batch))
        queue, send_id = new_queue()
        topic = http.post("/ems/topic").json()["topic_id"]
        subscribed = http.post(f"/ems/topic/{topic}/subscription", params={"queue_id": send_id})
        assert subscribed.status_code == 201
        found.append(Write("publish", queue, "POST", f"/ems/topic/{topic}/message", {}, b"hello"))
        for protocol in ("json", "query"):
            name = f"abandoned-{protocol}-{time.monotonic_ns()}"
            created = sqs_call(http, "CreateQueue", {"QueueName": name})
            url = created["QueueUrl"]
            attributes = sqs_call(
                http, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["EmsQueueId"]}
            )
            queue = attributes["Attributes"]["EmsQueueId"]
            params = {"QueueUrl": url, "MessageBody": "hello"}
            if protocol == "json":
                headers = {"Content-Type": SQS_JSON, "X-Amz-Target": "AmazonSQS.SendMessage"}
                body = json.dumps(params).encode()
            else:
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                body = urlencode({"Action": "SendMessage", **params}).encode()
            found.append(Write(f"sqs-{protocol}", queue, "POST", "/", headers, body))
    return found


def sqs_call(http: httpx.Client, action: str, params: dict[str, object]) -> dict[str, Any]:
    answer = http.post(
        "/",
        content=json.dumps(params),
        headers={"Content-Type": SQS_JSON, "X-Amz-Target": f"AmazonSQS.{action}"},
    )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def stored_bodies(server: EmsServer, queue_id: str) -> list[bytes]:
    with httpx.Client(base_url=server.url) as http:
        peeked = http.get(f"/ems/queue/{queue_id}/peek", params={"max_messages": 1000})
    assert peeked.status_code == 200
    return [m["body"].encode() for m in peeked.json()["messages"]]


def settled(
    read: Callable[[], list[bytes]], *, quiet: float = 0.5, limit: float = 10
) -> list[bytes]:
    """What ``read`` returns once it stopped changing for ``quiet`` seconds: requests abandoned
    a moment ago may still be on their way through the server."""
    deadline = time.monotonic() + limit
    last = read()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def test_a_write_abandoned_at_any_byte_stores_nothing(any_server: EmsServer) -> None:
    routes = writes(any_server)
    for write in routes:
        for cut in range(len(write.body)):  # 0: the headers only, as in the original report
            for reset in (True, False):
                send_and_abandon(any_server.port, write.request(write.body[:cut]), reset=reset)
    for write in routes:
        stored = settled(functools.partial(stored_bodies, any_server, write.queue_id))
        assert stored == [], write.name
    # the same routes still work for a client that finishes its requests
    for write in routes:
        status, answer = exchange(any_server.port, write.request())
        assert status in (200, 201), (write.name, answer)
        assert stored_bodies(any_server, write.queue_id), write.name


def test_a_reset_right_after_a_whole_request_never_stores_an_empty_message(
    any_server: EmsServer,
) -> None:
    """The request arrived whole and the client reset at once: the server may or may not have
    taken it (it was never acknowledged), but what it stored is the whole body, never b""."""
    (send,) = [w for w in writes(any_server) if w.name == "send"]
    for _ in range(200):
        send_and_abandon(any_server.port, send.request(), reset=True)
    bodies = settled(lambda: stored_bodies(any_server, send.queue_id))
    assert len(bodies) <= 200
    assert set(bodies) <= {b"hello world"}, "every stored message is the whole body"


def test_a_body_shorter_than_its_content_length_is_refused(server: EmsServer) -> None:
    """A client that closes its side after a short body (FIN) gets a 400, and nothing stored."""
    (send,) = [w for w in writes(server) if w.name == "send"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(send.request(b"hello"))  # 5 of the 11 bytes declared
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    # the server may answer, or just close: either way nothing is stored
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert settled(lambda: stored_bodies(server, send.queue_id)) == []
