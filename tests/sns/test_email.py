"""SNS ``email`` and ``email-json`` subscriptions: boto3 against a real ``ems serve`` that mails
through a real SMTP server (aiosmtpd, STARTTLS, AUTH); confirmed through the mailed link."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import EmsServer, free_port
from tests.smtp import Mail, SmtpServer
from tests.sns.conftest import client_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[EmsServer]:
    port = free_port()
    server = EmsServer(
        tmp_path_factory.mktemp("sns-mail") / "data",
        port=port,
        env={
            "EMS_SMTP_URL": smtp.url,
            "EMS_SMTP_FROM": "alerts@ems.example.com",
            "EMS_SMTP_CA_FILE": str(smtp.certificate),
            "EMS_SMTP_ALLOW_PRIVATE": "1",
            "EMS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def mail_sns(mail_server: EmsServer, smtp: SmtpServer) -> Any:
    with smtp.lock:
        smtp.mails.clear()
    return client_for(mail_server.url)


def confirm(smtp: SmtpServer, address: str) -> None:
    """Open the link of the confirmation mail ``address`` got, as its reader would."""
    (mail,) = [m for m in smtp.wait_for(1) if m.recipients == [address]]
    assert mail["Subject"].startswith("Confirm your subscription")
    link = next(line.strip() for line in mail.text.splitlines() if "/confirm/" in line)
    assert httpx.get(link).json()["status"] == "confirmed"
    with smtp.lock:
        smtp.mails.clear()


def subscribe(sns: Any, arn: str, protocol: str, address: str) -> None:
    answer = sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=address)
    assert answer["SubscriptionArn"] == "pending confirmation"
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed["SubscriptionArn"] == "PendingConfirmation"
    assert listed["Protocol"] == protocol
    assert listed["Endpoint"] == address


def one_mail(smtp: SmtpServer) -> Mail:
    (mail,) = smtp.wait_for(1)
    return mail


def test_email_confirm_publish_unsubscribe(mail_sns: Any, smtp: SmtpServer) -> None:
    arn = mail_sns.create_topic(
        Name=f"t-{uuid.uuid4().hex[:12]}", Attributes={"DisplayName": "Seat alerts"}
    )["TopicArn"]
    subscribe(mail_sns, arn, "email", "ada@example.com")
    confirm(smtp, "ada@example.com")
    (listed,) = mail_sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    subscription_arn = listed["SubscriptionArn"]
    assert subscription_arn.startswith(arn + ":")
    attributes = mail_sns.get_subscription_attributes(SubscriptionArn=subscription_arn)
    assert attributes["Attributes"]["PendingConfirmation"] == "false"

    mail_sns.publish(TopicArn=arn, Message="Seat 14 is free", Subject="CS 61A")
    mail = one_mail(smtp)
    assert mail.recipients == ["ada@example.com"]
    assert mail["Subject"] == "CS 61A"
    assert mail["From"] == "Seat alerts <alerts@ems.example.com>"
    assert mail.text.startswith("Seat 14 is free")
    assert mail["List-Unsubscribe"]

    mail_sns.unsubscribe(SubscriptionArn=subscription_arn)
    assert mail_sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_email_json_mails_the_notification_envelope(mail_sns: Any, smtp: SmtpServer) -> None:
    arn = mail_sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    subscribe(mail_sns, arn, "email-json", "bob@example.com")
    confirm(smtp, "bob@example.com")
    structured = json.dumps({"default": "plain", "email-json": "for programs"})
    message_id = mail_sns.publish(
        TopicArn=arn, Message=structured, MessageStructure="json", Subject="Hi"
    )["MessageId"]
    mail = one_mail(smtp)
    assert mail["Subject"] == "Hi"
    document = json.loads(mail.text)
    assert document["Type"] == "Notification"
    assert document["MessageId"] == message_id
    assert document["TopicArn"] == arn
    assert document["Subject"] == "Hi"
    assert document["Message"] == "for programs"
    assert document["Signature"]
    assert "Action=Unsubscribe" in document["UnsubscribeURL"]


def test_nothing_is_mailed_before_confirmation(mail_sns: Any, smtp: SmtpServer) -> None:
    arn = mail_sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    subscribe(mail_sns, arn, "email", "cy@example.com")
    subscribe(mail_sns, arn, "email", "cy@example.com")  # idempotent per endpoint: still one
    mail_sns.publish(TopicArn=arn, Message="early")
    (confirmation,) = smtp.wait_for(1)
    assert confirmation["Subject"].startswith("Confirm your subscription")
    with pytest.raises(AssertionError):  # bounded: the dispatcher scans every second
        smtp.wait_for(2, seconds=2)


@pytest.mark.parametrize("address", ["not-an-address", "a@b.com\r\nBcc: x@y.com", "a b@c.com"])
def test_bad_addresses_are_invalid_parameter(mail_sns: Any, address: str) -> None:
    arn = mail_sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    with pytest.raises(ClientError) as raised:
        mail_sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address)
    assert raised.value.response["Error"]["Code"] == "InvalidParameter"
    assert mail_sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_without_smtp_email_is_invalid_parameter(sns: Any, topic_arn: str) -> None:
    for protocol in ("email", "email-json"):
        with pytest.raises(ClientError) as raised:
            sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint="ada@example.com")
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidParameter"
        assert "EMS_SMTP_URL" in error["Message"]
