"""An SNS HTTP endpoint on loopback, as a subscriber would write one, for tests.

It verifies every message it gets with its own implementation of SNS's algorithm (not EMS's
code): fetch the certificate at ``SigningCertURL``, rebuild the documented string to sign from
the message's fields, check the RSA PKCS#1 v1.5 signature (SHA1 for SignatureVersion 1,
SHA256 for 2) with ``cryptography``. A SubscriptionConfirmation is confirmed by a GET on its
``SubscribeURL``. Answers follow a script of statuses (then 200).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def verify(message: dict[str, Any]) -> bytes:
    """Raise unless ``message`` is signed as SNS signs; return the certificate (PEM)."""
    pem = httpx.get(message["SigningCertURL"], timeout=5).raise_for_status().content
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    names = NOTIFICATION if message["Type"] == "Notification" else CONFIRMATION
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    key.verify(base64.b64decode(message["Signature"]), text.encode(), padding.PKCS1v15(), algorithm)
    return pem


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class SnsEndpoint:
    def __init__(self, *, confirm: bool = True, verify_signatures: bool = True) -> None:
        self.arrivals: list[Arrival] = []
        self.certificates: set[bytes] = set()
        self.script: list[int] = []
        self.confirmed: list[str] = []
        self._lock = threading.Condition()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                kind = headers.get("x-amz-sns-message-type")
                if verify_signatures and headers.get("x-amz-sns-rawdelivery") != "true":
                    pem = verify(json.loads(body))
                    with endpoint._lock:
                        endpoint.certificates.add(pem)
                if kind == "SubscriptionConfirmation" and confirm:
                    url = json.loads(body)["SubscribeURL"]
                    answer = httpx.get(url, timeout=5).raise_for_status()
                    endpoint.confirmed.append(answer.text)
                with endpoint._lock:
                    status = endpoint.script.pop(0) if endpoint.script else 200
                    endpoint.arrivals.append(Arrival(headers, body, status))
                    endpoint._lock.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/sns"

    def of_kind(self, kind: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.headers["x-amz-sns-message-type"] == kind]

    def wait_for(
        self, count: int, kind: str = "Notification", timeout: float = 15
    ) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [a for a in self.arrivals if a.headers["x-amz-sns-message-type"] == kind]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"got {len(found)} {kind} messages, wanted {count}")
                self._lock.wait(remaining)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
