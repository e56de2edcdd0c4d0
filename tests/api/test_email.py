"""Email subscriptions end to end: a real EMS app and a real SMTP server (aiosmtpd) on loopback,
with STARTTLS on a self-signed certificate and AUTH required."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ems.config import Settings
from ems.core.clock import ManualClock
from ems.server.app import EmsApp
from tests.api.conftest import assert_problem, create_queue, serving
from tests.api.test_webhooks import new_topic, until
from tests.smtp import SmtpServer

ADDRESS = "ada@example.com"
PUBLIC = "https://ems.example.com"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def settings(smtp: SmtpServer) -> Settings:
    return Settings(
        smtp_url=smtp.url,
        smtp_from="notify@ems.example.com",
        smtp_ca_file=smtp.certificate,
        smtp_allow_private=True,
        public_url=PUBLIC,
    )


@pytest.fixture
def fast(app: EmsApp) -> EmsApp:
    app.dispatcher.scan_interval = 0.02
    return app


async def subscribe(
    client: httpx.AsyncClient, topic_id: str, address: str = ADDRESS, **options: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"email": address}, json=options or None
    )
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    assert document["protocol"] == "email"
    assert document["endpoint"] == f"mailto:{address}"
    assert document["status"] == "pending_confirmation"
    assert "signing_secret" not in document, "the key of the unsubscribe links stays inside"
    return document


def local(url: str) -> str:
    """A link from a mail, as a path on the test app (the public URL is the reader's)."""
    assert url.startswith(PUBLIC + "/ems/topic/"), url
    return url[len(PUBLIC) :]


async def confirmed_subscription(
    client: httpx.AsyncClient, smtp: SmtpServer, **options: Any
) -> tuple[str, dict[str, Any]]:
    topic_id, _ = await new_topic(client)
    subscription = await subscribe(client, topic_id, **options)
    (confirmation,) = await asyncio.to_thread(smtp.wait_for, 1)
    link = next(line.strip() for line in confirmation.text.splitlines() if "/confirm/" in line)
    # a browser (or a mail scanner posing as one) opening the link gets a button, and confirms
    # nothing; pressing it POSTs
    asked = await client.get(local(link), headers={"Accept": "text/html"})
    assert '<button type="submit">Confirm</button>' in asked.text
    assert (await client.get(f"/ems/topic/{topic_id}/subscription")).json()["subscriptions"][0][
        "status"
    ] == "pending_confirmation"
    answer = await client.post(local(link), headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert "Subscription confirmed" in answer.text
    smtp.mails.clear()
    return topic_id, subscription


async def test_double_opt_in_then_one_mail_per_message(
    client: httpx.AsyncClient, smtp: SmtpServer, clock: ManualClock
) -> None:
    topic_id, public_id = await new_topic(client)
    subscription = await subscribe(client, topic_id, display_name="Seat alerts")
    (confirmation,) = await asyncio.to_thread(smtp.wait_for, 1)
    assert confirmation.recipients == [ADDRESS]
    assert confirmation.sender == "notify@ems.example.com"
    assert confirmation["From"] == "Seat alerts <notify@ems.example.com>"
    assert confirmation["Subject"] == "Confirm your subscription to Seat alerts"
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert not confirmation["List-Unsubscribe"], "declining is ignoring the mail"
    link = next(line.strip() for line in confirmation.text.splitlines() if "/confirm/" in line)

    # nothing else is sent until the link is opened
    early = await client.post(f"/ems/topic/{topic_id}/message", content=b"early")
    assert early.json()["emails"] == 0
    assert (await client.get(local(link))).json()["status"] == "confirmed"
    details = await client.get(f"/ems/topic/{topic_id}")
    assert details.json()["subscriptions"]["email_confirmed"] == 1

    published = await client.post(
        f"/ems/topic/{topic_id}/message?correlation_id=req-9",
        content="Seat 14 is free. Ünïcode too.".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8", "EMS-Attribute-Subject": "CS 61A"},
    )
    assert published.json()["emails"] == 1
    assert published.json()["webhooks"] == 0
    mails = await asyncio.to_thread(smtp.wait_for, 2)
    mail = mails[1]
    assert mail.recipients == [ADDRESS]
    assert mail["Subject"] == "CS 61A"
    assert mail.text.startswith("Seat 14 is free. Ünïcode too.")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"].startswith(f"<{PUBLIC}/ems/topic/unsubscribe/")
    assert mail["EMS-Message-Id"] == published.json()["message_id"]
    assert mail["EMS-Topic-Id"] == public_id
    assert mail["EMS-Correlation-Id"] == "req-9"
    assert mail["Message-ID"].endswith("@ems.example.com>")
    assert topic_id not in mail.message.as_string(), "the topic capability never leaves"

    # without a Subject attribute: the display name and the message id
    second = await client.post(f"/ems/topic/{topic_id}/message", content=b"next")
    mails = await asyncio.to_thread(smtp.wait_for, 3)
    assert mails[2]["Subject"] == f"Seat alerts: message {second.json()['message_id']}"
    sid = subscription["subscription_id"]
    await until(lambda: _delivered(client, topic_id, sid, 2))
    listed = await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")
    assert listed.json()["display_name"] == "Seat alerts"


async def test_one_click_unsubscribe_really_unsubscribes(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    topic_id, subscription = await confirmed_subscription(client, smtp)
    await client.post(f"/ems/topic/{topic_id}/message", content=b"one")
    (mail,) = await asyncio.to_thread(smtp.wait_for, 1)
    link = local(mail["List-Unsubscribe"].strip("<>"))
    assert link in mail.text, "the link is in the text too, for clients without a button"

    # opening the link (a scanner, a preview) changes nothing: it shows a button
    page = await client.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    sid = subscription["subscription_id"]
    assert (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).status_code == 200

    # a forged or altered token names nothing
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert_problem(await client.post(forged), 404, "unsubscribe-link-not-found")
    assert_problem(await client.post(link + "x"), 404, "unsubscribe-link-not-found")

    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click
    answer = await client.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.json() == {"status": "unsubscribed"}
    assert_problem(
        await client.get(f"/ems/topic/{topic_id}/subscription/{sid}"), 404, "subscription-not-found"
    )
    assert (await client.post(f"/ems/topic/{topic_id}/message", content=b"two")).json()[
        "emails"
    ] == 0
    assert_problem(await client.post(link), 404, "unsubscribe-link-not-found")


async def test_filter_policy_and_binary_bodies(client: httpx.AsyncClient, smtp: SmtpServer) -> None:
    topic_id, _ = await confirmed_subscription(client, smtp, filter_policy={"kind": ["seat-freed"]})
    skipped = await client.post(
        f"/ems/topic/{topic_id}/message", content=b"x", headers={"EMS-Attribute-Kind": "other"}
    )
    assert skipped.json()["emails"] == 0
    body = bytes(range(256))
    await client.post(
        f"/ems/topic/{topic_id}/message",
        content=body,
        headers={"EMS-Attribute-Kind": "seat-freed", "Content-Type": "image/png"},
    )
    (mail,) = await asyncio.to_thread(smtp.wait_for, 1)
    assert "256 bytes of image/png; it is attached" in mail.text
    (attachment,) = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "image/png"
    assert attachment.get_payload(decode=True) == body


async def test_temporary_failures_are_retried_with_the_same_message_id(
    client: httpx.AsyncClient, smtp: SmtpServer, clock: ManualClock, fast: EmsApp
) -> None:
    topic_id, subscription = await confirmed_subscription(client, smtp, min_retry_seconds=1)
    smtp.script = ["451 4.7.1 Greylisted, try again later", "452 4.2.2 Mailbox full"]
    await client.post(f"/ems/topic/{topic_id}/message", content=b"persistent")
    sid = subscription["subscription_id"]
    await until(lambda: _attempts(client, topic_id, sid, 1))
    clock.advance(60)
    await until(lambda: _attempts(client, topic_id, sid, 2))
    clock.advance(60)
    (mail,) = await asyncio.to_thread(smtp.wait_for, 1)
    assert mail.text.startswith("persistent")
    assert [m["Message-ID"] for m in smtp.refused] == [mail["Message-ID"]] * 2
    await until(lambda: _delivered(client, topic_id, sid))
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    assert details["deliveries"]["attempts"] == 3
    assert details["deliveries"]["delivered"] == 1


async def test_a_permanent_refusal_goes_to_the_dead_letter_queue(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    dead_letters = await create_queue(client)
    topic_id, subscription = await confirmed_subscription(
        client, smtp, dead_letter_queue_id=dead_letters
    )
    smtp.script = ["550 5.1.1 No such user here"]
    published = await client.post(f"/ems/topic/{topic_id}/message", content=b"lost")
    sid = subscription["subscription_id"]
    await until(lambda: _failed(client, topic_id, sid))
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    assert details["deliveries"]["attempts"] == 1, "a 5xx is not retried"
    assert details["deliveries"]["last_status"] == 550
    assert "No such user" in details["deliveries"]["last_error"]
    received = await client.get(f"/ems/queue/{dead_letters}/message")
    (failure,) = received.json()["messages"]
    envelope = json.loads(failure["body"])
    assert envelope["type"] == "DeliveryFailure"
    assert envelope["endpoint"] == f"mailto:{ADDRESS}"
    assert envelope["last_status"] == 550
    assert envelope["message"]["message_id"] == published.json()["message_id"]


async def test_smtp_server_down_and_back_delivers_once(
    client: httpx.AsyncClient, smtp: SmtpServer, clock: ManualClock, fast: EmsApp
) -> None:
    topic_id, subscription = await confirmed_subscription(client, smtp, min_retry_seconds=1)
    await asyncio.to_thread(smtp.stop)
    await client.post(f"/ems/topic/{topic_id}/message", content=b"while down")
    sid = subscription["subscription_id"]
    await until(lambda: _attempts(client, topic_id, sid, 2, clock))
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    assert "cannot reach the SMTP server" in details["deliveries"]["last_error"]
    assert "127.0.0.1" not in details["deliveries"]["last_error"]
    await asyncio.to_thread(smtp.start)
    # an attempt that failed while the server came back schedules its retry from the clock
    # as it is then: keep time moving until the mail arrives
    await until(lambda: _mails_after_advancing(smtp, clock), seconds=60)
    (mail,) = smtp.mails
    assert mail.text.startswith("while down")
    await until(lambda: _delivered(client, topic_id, sid))
    clock.advance(3600)
    await asyncio.sleep(0.3)
    assert len(smtp.mails) == 1, "delivered once"


async def test_connections_are_reused(
    client: httpx.AsyncClient, smtp: SmtpServer, fast: EmsApp
) -> None:
    topic_id, _ = await confirmed_subscription(client, smtp)
    mailer = fast.dispatcher.mailer
    assert mailer is not None
    opened = mailer.pool.connections_opened
    for i in range(5):
        await client.post(f"/ems/topic/{topic_id}/message", content=str(i).encode())
    mails = await asyncio.to_thread(smtp.wait_for, 5)
    assert [m.text.splitlines()[0] for m in mails] == ["0", "1", "2", "3", "4"], "in order"
    assert mailer.pool.connections_opened == opened, "the confirmation's connection carried all"
    assert len({m.connection for m in mails}) == 1


async def test_the_per_recipient_rate_limit_defers_without_counting_attempts(
    client: httpx.AsyncClient, smtp: SmtpServer, clock: ManualClock, fast: EmsApp
) -> None:
    mailer = fast.dispatcher.mailer
    assert mailer is not None
    mailer.limiter.now = lambda: clock.now_ms() / 1000
    mailer.limiter.capacity = 3.0  # the confirmation took one token of the default 10
    mailer.limiter.rate = 3 / 60
    mailer.limiter._buckets.clear()
    topic_id, subscription = await confirmed_subscription(client, smtp)
    for i in range(4):
        await client.post(f"/ems/topic/{topic_id}/message", content=str(i).encode())
    await asyncio.to_thread(smtp.wait_for, 2)
    await asyncio.sleep(0.3)
    assert len(smtp.mails) == 2, "the bucket (3, one spent on the confirmation) holds the rest"
    assert fast.metrics.emails["deferred"] >= 1
    sid = subscription["subscription_id"]
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    assert details["deliveries"]["attempts"] == 2, "held-back mails are not attempts"
    clock.advance(60)
    await asyncio.to_thread(smtp.wait_for, 4)


async def test_addresses_and_header_injection_are_refused(client: httpx.AsyncClient) -> None:
    topic_id, _ = await new_topic(client)
    for address in (
        "ada@example.com\r\nBcc: eve@example.com",
        "ada@example.com\nSubject: hi",
        "ada@example.com,eve@example.com",
        "Ada <ada@example.com>",
        '"ada"@example.com',
        "ada@localhost",
        "ada@[127.0.0.1]",
        "ada@exa mple.com",
        "ada.@example.com",
        "@example.com",
        "ada",
        "a" * 65 + "@example.com",
        "ada@bücher.example",
    ):
        response = await client.post(
            f"/ems/topic/{topic_id}/subscription", params={"email": address}
        )
        assert_problem(response, 400, "invalid-email-address")
    for name in ("Line\r\nBcc: eve@example.com", "tab\there", "", "x" * 101, 7):
        response = await client.post(
            f"/ems/topic/{topic_id}/subscription",
            params={"email": ADDRESS},
            json={"display_name": name},
        )
        assert_problem(response, 400, "invalid-request")
    response = await client.post(
        f"/ems/topic/{topic_id}/subscription", params={"email": ADDRESS}, json={"envelope": True}
    )
    assert_problem(response, 400, "invalid-request")
    assert (await client.get(f"/ems/topic/{topic_id}/subscription")).json()["subscriptions"] == []


async def test_subscribing_again_returns_the_subscription(
    client: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    topic_id, _ = await new_topic(client)
    first = await subscribe(client, topic_id)
    again = await client.post(f"/ems/topic/{topic_id}/subscription", params={"email": ADDRESS})
    assert again.status_code == 200
    assert again.json()["subscription_id"] == first["subscription_id"]


async def _attempts(
    client: httpx.AsyncClient, topic_id: str, sid: str, count: int, clock: ManualClock | None = None
) -> bool:
    if clock is not None:
        clock.advance(60)  # past any backoff, so that attempts keep coming
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    return bool(details["deliveries"]["attempts"] >= count)


async def _mails_after_advancing(smtp: SmtpServer, clock: ManualClock) -> bool:
    clock.advance(60)
    await asyncio.sleep(0.05)
    return bool(smtp.mails)


async def _failed(client: httpx.AsyncClient, topic_id: str, sid: str) -> bool:
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    return bool(details["deliveries"]["failed"] == 1)


async def _delivered(client: httpx.AsyncClient, topic_id: str, sid: str, count: int = 1) -> bool:
    details = (await client.get(f"/ems/topic/{topic_id}/subscription/{sid}")).json()
    return bool(details["deliveries"]["delivered"] == count)


async def test_without_smtp_settings_email_subscribe_is_a_400(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings()) as (_, http):
        topic_id, _ = await new_topic(http)
        response = await http.post(f"/ems/topic/{topic_id}/subscription", params={"email": ADDRESS})
        problem = assert_problem(response, 400, "email-not-configured")
        assert "EMS_SMTP_URL" in problem["detail"]
