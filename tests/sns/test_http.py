"""HTTP(S) subscriptions: confirmed through SubscribeURL, every message verified by an
independent implementation of SNS's signatures, retried, then dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.exceptions import InvalidSignature

from tests.e2e.server import EmsServer
from tests.sns.conftest import client_for, new_queue, receive_all
from tests.sns.endpoint import SnsEndpoint, verify


@pytest.fixture
def endpoint() -> Iterator[SnsEndpoint]:
    endpoint = SnsEndpoint()
    yield endpoint
    endpoint.close()


def subscribe(sns: Any, topic_arn: str, endpoint: SnsEndpoint, **attributes: str) -> str:
    answer = sns.subscribe(
        TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url, Attributes=attributes
    )
    assert answer["SubscriptionArn"] == "pending confirmation"
    endpoint.wait_for(1, "SubscriptionConfirmation")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert subscription["SubscriptionArn"] != "pending confirmation"
    arn: str = subscription["SubscriptionArn"]
    return arn


def test_confirm_then_verify_every_notification(
    server: EmsServer, sns: Any, topic_arn: str, endpoint: SnsEndpoint
) -> None:
    arn = subscribe(sns, topic_arn, endpoint)
    (confirmation,) = endpoint.of_kind("SubscriptionConfirmation")
    document = confirmation.json()
    assert document["Type"] == "SubscriptionConfirmation"
    assert document["TopicArn"] == topic_arn
    assert confirmation.headers["x-amz-sns-topic-arn"] == topic_arn
    assert "x-amz-sns-subscription-arn" not in confirmation.headers
    query = parse_qs(urlsplit(document["SubscribeURL"]).query)
    assert query == {"Action": ["ConfirmSubscription"], "TopicArn": [topic_arn],
                     "Token": [document["Token"]]}  # fmt: skip
    # the GET answered SNS's ConfirmSubscriptionResponse
    assert f"<SubscriptionArn>{arn}</SubscriptionArn>" in endpoint.confirmed[0]
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"

    ids = [sns.publish(TopicArn=topic_arn, Message=f"m{i}", Subject="hi")["MessageId"]
           for i in range(3)]  # fmt: skip
    ids.append(
        sns.publish(
            TopicArn=topic_arn, Message="with attributes",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}},
        )["MessageId"]
    )  # fmt: skip
    arrivals = endpoint.wait_for(4)
    assert sorted(a.json()["MessageId"] for a in arrivals) == sorted(ids)
    for arrival in arrivals:  # each was verified on arrival; the headers are SNS's
        document = arrival.json()
        assert arrival.headers["x-amz-sns-message-type"] == "Notification"
        assert arrival.headers["x-amz-sns-message-id"] == document["MessageId"]
        assert arrival.headers["x-amz-sns-topic-arn"] == topic_arn
        assert arrival.headers["x-amz-sns-subscription-arn"] == arn
        assert arrival.headers["content-type"] == "text/plain; charset=UTF-8"
        assert document["UnsubscribeURL"].startswith(f"{server.url}/?Action=Unsubscribe&")
    # one certificate, served where the messages say
    (certificate,) = endpoint.certificates
    assert b"BEGIN CERTIFICATE" in certificate

    # a tampered message does not verify
    tampered = {**arrivals[0].json(), "Message": "forged"}
    with pytest.raises(InvalidSignature):
        verify(tampered)

    # the UnsubscribeURL is a plain GET
    answer = httpx.get(arrivals[0].json()["UnsubscribeURL"])
    assert answer.status_code == 200
    assert b"<UnsubscribeResponse" in answer.content
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []


def test_signature_version_2_and_raw_delivery(
    sns: Any, topic_arn: str, endpoint: SnsEndpoint
) -> None:
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="SignatureVersion",
                             AttributeValue="2")  # fmt: skip
    arn = subscribe(sns, topic_arn, endpoint)
    assert endpoint.of_kind("SubscriptionConfirmation")[0].json()["SignatureVersion"] == "2"
    sns.publish(TopicArn=topic_arn, Message="v2")
    (arrival,) = endpoint.wait_for(1)
    assert arrival.json()["SignatureVersion"] == "2"
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                                    AttributeValue="true")  # fmt: skip
    sns.publish(TopicArn=topic_arn, Message="just the body")
    raw = endpoint.wait_for(2)[1]
    assert raw.body == b"just the body"
    assert raw.headers["x-amz-sns-rawdelivery"] == "true"


def test_confirm_subscription_action_and_bad_tokens(
    server: EmsServer, sns: Any, topic_arn: str
) -> None:
    endpoint = SnsEndpoint(confirm=False)
    try:
        sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url)
        (confirmation,) = endpoint.wait_for(1, "SubscriptionConfirmation")
        token = confirmation.json()["Token"]
        with pytest.raises(Exception, match="Invalid parameter: Token"):
            sns.confirm_subscription(TopicArn=topic_arn, Token="x" * 40)
        arn = sns.confirm_subscription(TopicArn=topic_arn, Token=token)["SubscriptionArn"]
        assert arn.startswith(topic_arn + ":")
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in subscriptions] == [arn]
    finally:
        endpoint.close()


def test_retried_then_dead_lettered(sns: Any, sqs: Any, topic_arn: str) -> None:
    endpoint = SnsEndpoint()
    try:
        dlq_url, dlq_arn = new_queue(sqs)
        policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1,
                                         "maxDelayTarget": 1}}  # fmt: skip
        arn = subscribe(
            sns, topic_arn, endpoint, DeliveryPolicy=json.dumps(policy),
            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn}),
        )  # fmt: skip
        endpoint.script = [500, 503, 502]
        published = sns.publish(TopicArn=topic_arn, Message="doomed")["MessageId"]
        attempts = endpoint.wait_for(3)
        # the same message, byte for byte, at every attempt
        assert len({a.body for a in attempts}) == 1
        assert {a.headers["x-amz-sns-message-id"] for a in attempts} == {published}
        (dead,) = receive_all(sqs, dlq_url, 1)
        envelope = json.loads(dead["Body"])
        assert envelope["MessageId"] == published
        assert envelope["Message"] == "doomed"
        verify(envelope)
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert (
            json.loads(attributes["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"]
            == 2
        )
        # a 4xx answer is a delivery, as in SNS: not retried
        endpoint.script = [404]
        sns.publish(TopicArn=topic_arn, Message="gone?")
        endpoint.wait_for(4)
        assert receive_all(sqs, dlq_url, 1) == []
    finally:
        endpoint.close()


def test_the_certificate_is_the_same_after_a_restart(tmp_path: Any) -> None:
    server = EmsServer(tmp_path / "data", env={"EMS_WEBHOOK_ALLOW_PRIVATE": "1"}).start()
    endpoint = SnsEndpoint()
    try:
        sns = client_for(server.url)
        arn = sns.create_topic(Name="restart")["TopicArn"]
        subscribe(sns, arn, endpoint)
        sns.publish(TopicArn=arn, Message="before")
        before = endpoint.wait_for(1)[0].json()
        server.stop()
        server.start()
        sns.publish(TopicArn=arn, Message="after")
        after = endpoint.wait_for(2)[1].json()
        assert before["SigningCertURL"] == after["SigningCertURL"]
        assert len(endpoint.certificates) == 1
        verify(before)  # a message signed before the restart still verifies
    finally:
        endpoint.close()
        server.stop()
