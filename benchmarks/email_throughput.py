"""Email benchmark: how fast EMS mails a topic's messages to a local SMTP server.

Starts an SMTP sink (aiosmtpd in this process, STARTTLS on a self-signed certificate and AUTH,
as a real submission server would ask) and ``ems serve`` mailing through it, then measures:

- mail latency: from the start of a publish to the sink accepting the mail, one subscriber,
  publishing one message at a time at 20/s on an otherwise idle server;
- mail throughput: a topic with ``--subscribers`` confirmed addresses, ``--messages`` publishes
  as fast as one client makes them, and how fast the resulting mails reach the sink, with the
  number of SMTP connections they took.

    python benchmarks/email_throughput.py [--subscribers 50] [--messages 200]

Run it under the shared lock on a shared machine (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tls import self_signed

from longpoll_latency import percentiles
from queue_core import HERE, Server, machine

EMS_PORT = 18021
SMTP_PORT = 18022


class Sink:
    """Accepts every mail, remembers when it came and on which connection."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, str, str, int]] = []  # at, message id, text, session

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = (envelope.original_content or b"").decode("utf-8", "replace")
        message_id = ""
        for line in content.splitlines():
            if line.startswith("EMS-Message-Id:"):
                message_id = line.split(":", 1)[1].strip()
                break
        with self.lock:
            self.arrivals.append((time.time(), message_id, content, id(session)))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def wait_for(self, count: int, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while self.count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.count()} mails arrived, not {count}")
            time.sleep(0.01)


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    return AuthResult(success=isinstance(data, LoginPassword) and data.login == b"bench")


def subscribe(http: httpx.Client, sink: Sink, topic_id: str, count: int) -> None:
    before = sink.count()
    for n in range(count):
        answer = http.post(
            f"/ems/topic/{topic_id}/subscription", params={"email": f"reader{n}@example.com"}
        )
        answer.raise_for_status()
    sink.wait_for(before + count)
    with sink.lock:
        confirmations = [text for _, _, text, _ in sink.arrivals[before:]]
    for text in confirmations:
        link = next(line.strip() for line in text.splitlines() if "/ems/topic/confirm/" in line)
        http.get(link).raise_for_status()


def latency(http: httpx.Client, sink: Sink, count: int) -> dict[str, Any]:
    topic_id = http.post("/ems/topic").json()["topic_id"]
    subscribe(http, sink, topic_id, 1)
    before = sink.count()
    started: dict[str, float] = {}
    for _ in range(count):
        began = time.time()
        answer = http.post(f"/ems/topic/{topic_id}/message", content=b"x" * 256)
        started[answer.json()["message_id"]] = began
        time.sleep(max(0.0, 0.05 - (time.time() - began)))
    sink.wait_for(before + count)
    with sink.lock:
        arrived = {m: at for at, m, _, _ in sink.arrivals[before:]}
    samples = [(arrived[m] - began) * 1000 for m, began in started.items()]
    return {"mails": count, "latency_ms": percentiles(samples)}


def throughput(http: httpx.Client, sink: Sink, subscribers: int, messages: int) -> dict[str, Any]:
    topic_id = http.post("/ems/topic").json()["topic_id"]
    subscribe(http, sink, topic_id, subscribers)
    before = sink.count()
    began = time.time()
    for n in range(messages):
        answer = http.post(f"/ems/topic/{topic_id}/message", content=f"message {n}".encode())
        assert answer.json()["emails"] == subscribers, answer.text
    published = time.time()
    sink.wait_for(before + subscribers * messages)
    done = time.time()
    with sink.lock:
        sessions = {s for _, _, _, s in sink.arrivals[before:]}
    mails = subscribers * messages
    return {
        "subscribers": subscribers,
        "publishes": messages,
        "publish_seconds": round(published - began, 2),
        "mails": mails,
        "seconds": round(done - began, 2),
        "mails_per_second": round(mails / (done - began), 1),
        "smtp_connections": len(sessions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--latency-messages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        certificate, key = self_signed(directory)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certificate, key)
        sink = Sink()
        controller = Controller(
            sink,
            hostname="127.0.0.1",
            port=SMTP_PORT,
            tls_context=tls,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
        )
        controller.start()
        ems = Server(
            [sys.executable, "-m", "ems", "serve", "--port", str(EMS_PORT),
             "--data-dir", str(directory / "data")],
            EMS_PORT,
            directory / "ems.log",
            env={
                "EMS_SMTP_URL": f"smtp://bench:pw@127.0.0.1:{SMTP_PORT}",
                "EMS_SMTP_FROM": "bench@example.com",
                "EMS_SMTP_CA_FILE": str(certificate),
                "EMS_SMTP_ALLOW_PRIVATE": "1",
                "EMS_PUBLIC_URL": f"http://127.0.0.1:{EMS_PORT}",
                # many mails to few readers: the per-recipient limit is not what is measured
                "EMS_EMAIL_RATE_LIMIT": "1000000",
            },
        )  # fmt: skip
        try:
            with httpx.Client(base_url=ems.url, timeout=30) as http:
                results = {
                    "machine": machine(),
                    "latency_1_subscriber": latency(http, sink, args.latency_messages),
                    "throughput": throughput(http, sink, args.subscribers, args.messages),
                }
        finally:
            ems.stop()
            controller.stop()
    print(json.dumps(results, indent=2))
    out = HERE / "results" / "email.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
