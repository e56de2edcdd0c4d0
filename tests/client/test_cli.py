"""The ``ems`` command's client side, run as a real process against a real server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from ems.client import Client
from tests.e2e.server import EmsServer


def ems(
    server: EmsServer, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ems", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "EMS_URL": server.url, **(env or {})},
        check=False,
    )


def ok(server: EmsServer, *args: str, stdin: bytes = b"", **kwargs: dict[str, str]) -> bytes:
    result = ems(server, *args, stdin=stdin, **kwargs)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_queue_send_receive_delete(server: EmsServer) -> None:
    created = json.loads(ok(server, "queue", "create", "-a", "visibility_timeout=60", "--json"))
    queue = created["queue_id"]
    assert created["visibility_timeout"] == 60
    human = ok(server, "queue", "create").decode()
    assert human.splitlines()[0].startswith("queue_id")
    ok(server, "send", queue, "Hello World", "-a", "kind=greeting")
    ok(server, "send", queue, stdin=b"from stdin")
    out = ok(server, "receive", queue, "--max", "10", "--wait", "1", "--delete")
    assert sorted(out.decode().splitlines()) == ["Hello World", "from stdin"]
    info = json.loads(ok(server, "queue", "info", queue, "--json"))
    assert (info["messages_visible"], info["messages_in_flight"]) == (0, 0)
    ok(server, "queue", "delete", queue)
    gone = ems(server, "queue", "info", queue)
    assert gone.returncode == 1
    assert gone.stderr.decode().startswith("ems: Queue not found:")
    assert b"Traceback" not in gone.stderr


def test_send_a_file_line_by_line(server: EmsServer, tmp_path: Path) -> None:
    with Client(server.url) as client:
        queue = client.create_queue().queue_id
        lines = tmp_path / "lines.txt"
        lines.write_text("".join(f"line {i}\n" for i in range(1234)))
        result = ems(server, "send", queue, "--file", str(lines))
        assert result.returncode == 0, result.stderr
        assert b"sent 1,234 messages" in result.stderr
        assert client.get_queue(queue).messages_visible == 1234
        out = ok(server, "receive", queue, "--max", "5", "--json")
        messages = [json.loads(line) for line in out.splitlines()]
        assert len(messages) == 5
        assert all(m["body"].startswith("line ") and m["receipt_handle"] for m in messages)


def test_topic_commands(server: EmsServer) -> None:
    topic = json.loads(ok(server, "topic", "create", "--json"))["topic_id"]
    queue = json.loads(ok(server, "queue", "create", "--json"))["queue_id"]
    subscription = json.loads(ok(server, "topic", "subscribe", topic, "--queue", queue, "--json"))
    assert subscription["status"] == "confirmed"
    published = json.loads(ok(server, "topic", "publish", topic, "event!", "--json"))
    assert published["queues"] == 1
    assert ok(server, "receive", queue, "--wait", "1") == b"event!\n"
    assert json.loads(ok(server, "topic", "info", topic, "--json"))["topic_id"]


def test_crypto_round_trip_without_the_server(server: EmsServer) -> None:
    key = ok(server, "crypto", "key").decode().strip()
    Fernet(key)
    token = ok(server, "crypto", "encrypt", "--key", key, stdin=b"\x00secret\xff").strip()
    assert Fernet(key).decrypt(token) == b"\x00secret\xff"
    plain = ok(server, "crypto", "decrypt", stdin=token, env={"EMS_CRYPTO_KEY": key})
    assert plain == b"\x00secret\xff"
    wrong = ems(server, "crypto", "decrypt", "--key", Fernet.generate_key().decode(), stdin=token)
    assert wrong.returncode == 1
    assert b"Decryption failed" in wrong.stderr
    missing = ems(server, "crypto", "encrypt", stdin=b"x", env={"EMS_CRYPTO_KEY": ""})
    assert missing.returncode == 2


def test_unreachable_server_is_one_clear_line(server: EmsServer) -> None:
    result = ems(server, "queue", "create", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("ems: ")
    assert len(result.stderr.decode().strip().splitlines()) == 1


def test_a_key_that_starts_with_a_dash_is_a_value_not_an_option(server: EmsServer) -> None:
    """Fernet keys are URL-safe base64: one in 64 made elsewhere starts with "-"."""
    key = base64.urlsafe_b64encode(b"\xfb" + bytes(31)).decode()
    assert key.startswith("-")
    token = ok(server, "crypto", "encrypt", "--key", key, stdin=b"dash").strip()
    assert ok(server, "crypto", "decrypt", "--key", key, stdin=token) == b"dash"


def test_queue_redrive(server: EmsServer) -> None:
    with Client(server.url) as client:
        dlq = client.create_queue().queue_id
        source = client.create_queue(
            visibility_timeout=0, dead_letter={"queue_id": dlq, "max_receives": 1}
        ).queue_id
        client.send(source, "poison")
        client.receive(source)
        assert client.receive(source) == []  # moved to the dead-letter queue
    done = json.loads(ok(server, "queue", "redrive", dlq, "--wait", "--json"))
    assert (done["status"], done["messages_moved"]) == ("COMPLETED", 1)
    assert ok(server, "receive", source).decode().strip() == "poison"
    shown = ok(server, "queue", "redrive", dlq, "--status").decode()
    assert "COMPLETED" in shown
    refused = ems(server, "queue", "redrive", dlq, "--cancel")
    assert refused.returncode == 1
    assert refused.stderr.decode().startswith("ems: Redrive not found:")
