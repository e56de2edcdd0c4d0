"""Webhook reply: the result of queued work is pushed to the web app; nobody polls.

As in shorten_response_time.py, a handler enqueues a job and answers at once. Here the worker
publishes its result to a topic, which pushes it to the web app's webhook (a tiny HTTP server in
a thread). The webhook confirms its subscription by answering the ``SubscriptionConfirmation``
POST with its ``challenge`` (docs/topics.md), verifies every request with ``ems.verify_webhook``
and the subscription's ``whsec_`` secret, drops duplicates by ``webhook-id`` (delivery is at
least once), and matches results to requests by ``EMS-Correlation-Id``.

EMS refuses webhooks to loopback addresses unless told otherwise, so run it with::

    ems serve --webhook-allow-private     # in one terminal
    python examples/webhook_reply.py      # in another (--url or EMS_URL for elsewhere)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from ems import APIError, Client, Message, TransportError, Worker, verify_webhook
from ems.client.webhooks import InvalidSignature


class Inbox:
    """What the web app's webhook received: results by correlation id."""

    def __init__(self) -> None:
        self.secret = ""
        self.secret_known = threading.Event()  # EMS may call before subscribe() has returned
        self.results: dict[str, str] = {}
        self.seen: set[str] = set()
        self.changed = threading.Condition()


def webhook_server(inbox: Inbox) -> ThreadingHTTPServer:
    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            if not inbox.secret_known.wait(10):
                return self.answer(503, b"not ready")  # EMS retries later
            try:
                verify_webhook(inbox.secret, headers, body)
            except InvalidSignature:
                return self.answer(401, b"bad signature")
            if headers.get("ems-message-type") == "SubscriptionConfirmation":
                return self.answer(200, json.loads(body)["challenge"].encode())
            with inbox.changed:
                if headers["webhook-id"] not in inbox.seen:  # else a retry of a push we have
                    inbox.seen.add(headers["webhook-id"])
                    inbox.results[headers.get("ems-correlation-id", "")] = body.decode()
                    inbox.changed.notify_all()
            return self.answer(200, b"ok")

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Webhook)


def run(client: Client, requests: int) -> bool:
    jobs = client.create_queue()
    topic = client.create_topic()
    inbox = Inbox()
    server = webhook_server(inbox)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ems-results"

    def work(message: Message) -> None:
        time.sleep(0.5)  # the slow part; then push the result instead of replying to a queue
        client.publish(
            topic.topic_id, f"done: {message.text}", correlation_id=message.correlation_id
        )

    worker = Worker(client, jobs.receive_id, work, concurrency=5, wait_seconds=1)
    thread = worker.start()
    try:
        subscription = client.subscribe_url(topic.topic_id, url)
        inbox.secret = subscription.signing_secret or ""
        inbox.secret_known.set()
        deadline = time.monotonic() + 30
        while subscription.status != "confirmed" and time.monotonic() < deadline:
            time.sleep(0.1)
            subscription = client.get_subscription(topic.topic_id, subscription.subscription_id)
        print(f"webhook {url}: subscription {subscription.status}")

        tickets = {uuid.uuid4().hex: f"job {i}" for i in range(requests)}
        for ticket, job in tickets.items():  # the web handler: enqueue, answer at once
            client.send(jobs.send_id, job, correlation_id=ticket)
        print(f"enqueued {requests} jobs; waiting for their results to be pushed")
        with inbox.changed:
            inbox.changed.wait_for(lambda: len(inbox.results) >= requests, timeout=60)
            pushed = dict(inbox.results)
        correct = sum(pushed.get(t) == f"done: {job}" for t, job in tickets.items())
        print(f"{correct}/{requests} results arrived by webhook, signatures verified")

        forged = httpx.post(url, content=b"done: job 0", headers={"webhook-id": "msg_x"})
        print(f"an unsigned request to the webhook is refused: {forged.status_code}")
        ok = correct == requests and forged.status_code == 401
    finally:
        worker.stop()
        thread.join(30)
        client.delete_topic(topic.topic_id)
        client.delete_queue(jobs.queue_id)
        server.shutdown()
        server.server_close()
        serving.join(10)
    print("OK" if ok else "FAILED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("EMS_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        with Client(args.url) as client:
            return 0 if run(client, args.requests) else 1
    except TransportError as error:
        print(f"cannot reach EMS at {args.url} ({error}): start it with `ems serve`")
    except APIError as error:
        if error.slug != "forbidden-webhook-url":
            raise
        print(
            "EMS refuses webhooks to 127.0.0.1: start it with `ems serve --webhook-allow-private`"
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
