"""Email subscriptions through the SDK and the CLI, on a real ``ems serve`` process configured
by its flags and variables, mailing through a real SMTP server (STARTTLS, AUTH)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ems.client import Client
from ems.client.errors import BadRequest
from tests.client.test_cli import ok
from tests.e2e.server import EmsServer, free_port
from tests.smtp import SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def mailing_server(tmp_path: Path, smtp: SmtpServer) -> Iterator[EmsServer]:
    port = free_port()
    server = EmsServer(
        tmp_path / "data",
        port=port,
        # the password only in the environment; the rest as flags
        env={"EMS_SMTP_URL": smtp.url},
    )
    server.start(
        "--smtp-from",
        "alerts@ems.example.com",
        "--smtp-ca-file",
        str(smtp.certificate),
        "--smtp-allow-private",
        "--public-url",
        f"http://127.0.0.1:{port}",
    )
    yield server
    server.stop()


def test_subscribe_by_email_from_the_sdk_and_the_cli(
    mailing_server: EmsServer, smtp: SmtpServer
) -> None:
    with Client(mailing_server.url) as client:
        topic = client.create_topic()
        subscription = client.subscribe_email(topic.topic_id, "ada@example.com")
        assert subscription.protocol == "email"
        assert subscription.status == "pending_confirmation"
        with pytest.raises(BadRequest):
            client.subscribe_email(topic.topic_id, "ada@example.com\r\nBcc: eve@example.com")
        from_cli = json.loads(
            ok(mailing_server, "topic", "subscribe", topic.topic_id, "--email", "bob@example.com",
               "--json")
        )  # fmt: skip
        assert from_cli["endpoint"] == "mailto:bob@example.com"

        confirmations = smtp.wait_for(2)
        assert sorted(m.recipients[0] for m in confirmations) == [
            "ada@example.com",
            "bob@example.com",
        ]
        ada = next(m for m in confirmations if m.recipients == ["ada@example.com"])
        link = next(line.strip() for line in ada.text.splitlines() if "/confirm/" in line)
        assert link.startswith(mailing_server.url + "/ems/topic/confirm/")
        assert httpx.get(link).json()["status"] == "confirmed"

        published = client.publish(
            topic.topic_id, b"the report is ready", attributes={"Subject": "Report #7"}
        )
        assert published.emails == 1, "bob has not confirmed"
        mails = smtp.wait_for(3)
        assert mails[2].recipients == ["ada@example.com"]
        assert mails[2]["Subject"] == "Report #7"
        unsubscribe = mails[2]["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith(mailing_server.url + "/ems/topic/unsubscribe/")
        assert httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click").status_code == 200
        assert client.publish(topic.topic_id, b"nobody").emails == 0
    assert "s3cret" not in mailing_server.output(), "the SMTP password is never logged"
