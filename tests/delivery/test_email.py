"""The parts of email delivery that need no server: composing mails, tokens, the SSRF guard."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import pytest

from ems.core import unsubscribe
from ems.core.topic_models import DeliveryKind, DeliveryPolicy, DeliveryTask, TopicMessage
from ems.delivery import mail
from ems.delivery.email import RecipientLimiter
from ems.delivery.smtp import SmtpPool
from ems.delivery.smtp_target import SmtpTarget
from ems.delivery.ssrf import AddressPolicy, ForbiddenHost

SENDER = mail.Sender("notify@example.com", "https://ems.example.com")


def task(message: TopicMessage, name: str | None = None) -> DeliveryTask:
    return DeliveryTask(
        delivery_key=1,
        kind=DeliveryKind.NOTIFICATION,
        webhook_id="msg_stable",
        attempt=1,
        subscription_key=1,
        subscription_id="sub-AAAAAAAAAAAAAAAA",
        topic_public_id="topic-x",
        url="mailto:ada@example.com",
        signing_secret="whsec_c2VjcmV0",
        policy=DeliveryPolicy(display_name=name),
        message=message,
        published_at_ms=1_700_000_000_000,
    )


def test_a_subject_cannot_add_headers() -> None:
    message = TopicMessage("m1", b"body", attributes={"subject": "Hi\r\nBcc: eve@example.com"})
    composed = mail.notification(task(message, "Alerts\nX-Evil: 1"), SENDER, "https://u")
    assert composed["Subject"] == "Hi Bcc: eve@example.com"
    assert composed["Bcc"] is None
    assert composed["X-Evil"] is None
    assert composed["From"] == '"Alerts X-Evil: 1" <notify@example.com>'
    assert composed["Message-ID"] == "<msg_stable.sub-AAAAAAAAAAAAAAAA@example.com>"


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [(None, b"plain", True), ("application/x-www-form-urlencoded", b"curl -d", True),
     ("application/json", b'{"a": 1}', True), ("text/plain", b"\xff\xfe", False),
     ("application/octet-stream", b"bytes", False), ("multipart/mixed", b"x", False)],
)  # fmt: skip
def test_text_or_attachment(content_type: str | None, body: bytes, text: bool) -> None:
    message = TopicMessage("m1", body, content_type=content_type)
    composed: EmailMessage = mail.notification(task(message), SENDER, "https://u")
    attachments = list(composed.iter_attachments())
    assert (not attachments) is text
    if attachments:
        assert attachments[0].get_payload(decode=True) == body
        assert attachments[0].get_content_maintype() != "multipart"


def test_unsubscribe_tokens_name_one_subscription() -> None:
    made = unsubscribe.token("sub-AAAAAAAAAAAAAAAA", "secret", "s2")
    assert made.startswith("s2_")
    assert unsubscribe.subscription_of(made) == "sub-AAAAAAAAAAAAAAAA"
    assert unsubscribe.verify(made, "sub-AAAAAAAAAAAAAAAA", "secret")
    assert not unsubscribe.verify(made, "sub-AAAAAAAAAAAAAAAA", "other secret")
    other = unsubscribe.token("sub-BBBBBBBBBBBBBBBB", "secret")
    spliced = other[:16] + made[-27:]
    assert not unsubscribe.verify(spliced, "sub-BBBBBBBBBBBBBBBB", "secret")
    assert unsubscribe.subscription_of("short") is None


def test_the_rate_limit_refills_over_the_minute() -> None:
    now = [0.0]
    limiter = RecipientLimiter(2, now=lambda: now[0])
    assert limiter.wait("Ada@example.com") == 0
    assert limiter.wait("ada@example.com") == 0, "addresses are compared without case"
    assert limiter.wait("ada@example.com") == pytest.approx(30)
    assert limiter.wait("bob@example.com") == 0, "per recipient"
    now[0] = 30
    assert limiter.wait("ada@example.com") == 0


async def test_the_smtp_host_passes_the_ssrf_guard_unless_allowed() -> None:
    pool = SmtpPool(
        SmtpTarget.parse("smtp://127.0.0.1:9"), AddressPolicy(), ssl.create_default_context()
    )
    with pytest.raises(ForbiddenHost):
        await pool.send(EmailMessage(), "a@example.com", "b@example.com", seconds=5)
    for link_local in ("169.254.169.254", "10.0.0.1", "[::1]"):
        pool.target = SmtpTarget.parse(f"smtps://{link_local}")
        with pytest.raises(ForbiddenHost):
            await pool.send(EmailMessage(), "a@example.com", "b@example.com", seconds=5)
    assert pool.connections_opened == 0
