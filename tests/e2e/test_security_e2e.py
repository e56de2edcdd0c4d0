"""Security controls on real processes and sockets: TLS, the allowlist, at-rest encryption, and
a server's own logs."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx
import pytest

from ems.core.crypto import new_key
from tests.e2e.server import EmsServer
from tests.tls import self_signed


def test_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    server = EmsServer(tmp_path / "data", scheme="https", verify=context)
    server.start("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        with httpx.Client(base_url=server.url, verify=context) as https:
            queue_id = https.post("/ems/queue").json()["queue_id"]
            assert (
                https.post(f"/ems/queue/{queue_id}/message", content=b"over TLS").status_code == 201
            )
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=2)
    finally:
        server.stop()


def test_the_allowlist_on_real_sockets(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start("--allow-cidr", "127.0.0.1/32")
    try:
        assert httpx.post(f"{server.url}/ems/queue").status_code == 201
        # the same server, reached from a second loopback address
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=other) as refused:
            response = refused.post(f"{server.url}/ems/queue")
            assert response.status_code == 403
            assert response.json()["type"] == "/ems/problems/client-not-allowed"
            assert refused.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()


def test_bodies_are_encrypted_in_the_database(tmp_path: Path) -> None:
    secret = b"the enrollment list of CS 61A"
    server = EmsServer(tmp_path / "data", env={"EMS_ENCRYPTION_KEY": new_key()}).start()
    try:
        queue_id = httpx.post(f"{server.url}/ems/queue").json()["queue_id"]
        httpx.post(f"{server.url}/ems/queue/{queue_id}/message", content=secret)
        got = httpx.get(f"{server.url}/ems/queue/{queue_id}/peek").json()["messages"]
        assert got[0]["body"] == secret.decode()
    finally:
        server.stop()
    for path in (tmp_path / "data").iterdir():
        assert secret not in path.read_bytes(), path.name


def test_a_server_log_holds_no_ids_or_keys(tmp_path: Path) -> None:
    server = EmsServer(tmp_path / "data").start("--access-log", "--webhook-allow-private")
    ids: list[str] = []
    try:
        with httpx.Client(base_url=server.url) as http:
            queue = http.post("/ems/queue").json()
            ids += [queue["queue_id"], queue["send_id"], queue["receive_id"]]
            http.post(f"/ems/queue/{queue['send_id']}/message", content=b"x")
            handle = http.get(f"/ems/queue/{queue['receive_id']}/message").json()["messages"][0]
            http.delete(f"/ems/queue/{queue['queue_id']}/message/{handle['receipt_handle']}")
            http.get(f"/ems/queue/{queue['send_id']}")  # refused: 403
            topic = http.post("/ems/topic").json()
            ids.append(topic["topic_id"])
            subscription = http.post(
                f"/ems/topic/{topic['topic_id']}/subscription",
                params={"url": "http://127.0.0.1:9/x"},
            ).json()
            ids.append(subscription["signing_secret"])
            key = http.get("/ems/crypto/random-key").text
            ids.append(key)
            http.post("/ems/crypto/encryption", content=b"x", headers={"Crypto-Key": key})
    finally:
        server.stop()
    log = server.output()
    assert "POST /ems/queue/{id}/message 201" in log, "the access log was on"
    assert not [value for value in ids if value in log]
    assert not re.search(r"/ems/(queue|topic)/[A-Za-z0-9_-]{16,}", log)
