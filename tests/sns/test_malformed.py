"""Malformed SNS requests: a 4xx in SNS's format, never a 5xx, and nothing changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.server import EmsServer

NEST = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    "form",
    [
        {"Action": "CreateTopic"},
        {"Action": "CreateTopic", "Name": "x" * 300},
        {"Action": "CreateTopic", "Name": "t", "Attributes.entry.1.value": "v"},
        {"Action": "CreateTopic", "Name": "t", "Attributes.entry.0.key": "DisplayName"},
        {"Action": "CreateTopic", "Name": "t", "Tags.member.1.Key": ""},
        {"Action": "CreateTopic", "Name": "t", "Tags": "not a list"},
        {"Action": "CreateTopic", "Name": "t", "Attributes.entry.1.key": "DeliveryPolicy",
         "Attributes.entry.1.value": NEST},
        {"Action": "CreateTopic", "Name": "t", "Attributes.entry.1.key": "Policy",
         "Attributes.entry.1.value": "{" * 3000},
        {"Action": "Publish", "TopicArn": "arn:aws:sns:us-east-1:000000000000:none",
         "Message": "x"},
        {"Action": "Publish", "TopicArn": "not an arn", "Message": "x"},
        {"Action": "Publish", "TopicArn.member.1": "x", "Message": "x"},
        {"Action": "Subscribe", "TopicArn": "arn:aws:sns:us-east-1:000000000000:none",
         "Protocol": "sqs"},
        {"Action": "Unsubscribe", "SubscriptionArn": "arn:aws:sns:x"},
        {"Action": "GetSubscriptionAttributes",
         "SubscriptionArn": "arn:aws:sns:us-east-1:000000000000:none:sub-x"},
        {"Action": "ConfirmSubscription", "TopicArn": "x", "Token": "y"},
        {"Action": "ListTopics", "NextToken": "%%%"},
        {"Action": "ListSubscriptions", "NextToken": "bm90IGEgdG9waWM="},
        {"Action": "PublishBatch", "TopicArn": "arn:aws:sns:us-east-1:000000000000:none"},
        {"Action": "TagResource", "ResourceArn": "x", "Tags.member.1.Key": "k"},
        {"Action": "Nope"},
    ],
)  # fmt: skip
def test_refused_in_sns_format(server: EmsServer, form: dict[str, str]) -> None:
    answer = httpx.post(server.url, data={**form, "Version": "2010-03-31"})
    assert 400 <= answer.status_code < 500, answer.text
    assert b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' in answer.content


def test_hostile_bodies_and_policies_on_a_real_topic(server: EmsServer, sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name="hostile")["TopicArn"]
    url = sqs.create_queue(QueueName="hostile")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    endpoint = arn["Attributes"]["QueueArn"]
    for policy in (NEST, '{"a": ' * 40 + '["x"]' + "}" * 40, '{"a": [{"numeric": [">"]}]}'):
        answer = httpx.post(server.url, data={
            "Action": "Subscribe", "Version": "2010-03-31", "TopicArn": topic, "Protocol": "sqs",
            "Endpoint": endpoint, "Attributes.entry.1.key": "FilterPolicy",
            "Attributes.entry.1.value": policy, "Attributes.entry.2.key": "FilterPolicyScope",
            "Attributes.entry.2.value": "MessageBody",
        })  # fmt: skip
        assert answer.status_code == 400, answer.text
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=endpoint,
                  Attributes={"FilterPolicy": '{"a": ["x"]}', "FilterPolicyScope": "MessageBody"})  # fmt: skip
    # a body nested beyond what the JSON parser takes simply does not match
    sns.publish(TopicArn=topic, Message=NEST)
    answer = httpx.post(server.url, data={
        "Action": "Publish", "Version": "2010-03-31", "TopicArn": topic, "Message": "x",
        "MessageAttributes.entry.1.Name": "a", "MessageAttributes.entry.1.Value.DataType":
        "String.Array", "MessageAttributes.entry.1.Value.StringValue": NEST,
    })  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


@pytest.mark.parametrize(
    "query",
    ["Action=ConfirmSubscription", "Action=ConfirmSubscription&TopicArn=x&Token=" + "y" * 40,
     "Action=Unsubscribe", "Action=Unsubscribe&SubscriptionArn=%ff", "Action=Unsubscribe&"
     "SubscriptionArn=arn:aws:sns:us-east-1:000000000000:gone:sub-x"],
)  # fmt: skip
def test_the_unauthenticated_gets(server: EmsServer, query: str) -> None:
    answer = httpx.get(f"{server.url}/?{query}")
    assert answer.status_code < 500
    assert answer.headers["content-type"] == "text/xml"
    assert httpx.get(f"{server.url}/").headers["content-type"].startswith("text/html")
    assert httpx.get(f"{server.url}/ems/sns/other.pem").status_code == 404


def test_fifo_publish_ids_with_lone_surrogates_or_odd_values(server: EmsServer, sns: Any) -> None:
    topic = sns.create_topic(Name="odd-ids.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    start = f"Action=Publish&Version=2010-03-31&Message=m&TopicArn={topic}".encode()
    batch = (f"Action=PublishBatch&Version=2010-03-31&TopicArn={topic}"
             "&PublishBatchRequestEntries.member.1.Id=a"
             "&PublishBatchRequestEntries.member.1.Message=m").encode()  # fmt: skip
    form = {"content-type": "application/x-www-form-urlencoded"}
    # a percent-encoded lone surrogate or stray byte, a non-ASCII letter, too long, too long by far
    for raw in (b"%ED%A0%80", b"%FF", b"%C3%A9", b"x" * 129, b"x" * 100_000):
        # bytes that are not UTF-8 make the whole form malformed; the rest are refused ids
        code = b"MalformedQueryString" if raw in (b"%ED%A0%80", b"%FF") else b"InvalidParameter"
        for name, other in ((b"MessageGroupId", b"MessageDeduplicationId=d"),
                            (b"MessageDeduplicationId", b"MessageGroupId=g")):  # fmt: skip
            answer = httpx.post(server.url, content=start + b"&" + other + b"&" + name + b"=" + raw,
                                headers=form)  # fmt: skip
            assert answer.status_code == 400, answer.text
            assert b"<Code>" + code + b"</Code>" in answer.content
            entry = b"&PublishBatchRequestEntries.member.1."
            answer = httpx.post(server.url, headers=form,
                                content=batch + entry + other + entry + name + b"=" + raw)  # fmt: skip
            assert answer.status_code in (200, 400), answer.text
            assert b"<Successful><member>" not in answer.content
            assert b"<SequenceNumber>" not in answer.content
    # the same requests with good ids are taken, so the refusals above are the ids'
    good = httpx.post(server.url, headers=form, content=batch + b"&PublishBatchRequestEntries"
                      b".member.1.MessageGroupId=g&PublishBatchRequestEntries.member.1."
                      b"MessageDeduplicationId=d")  # fmt: skip
    assert good.status_code == 200, good.text
    assert b"<SequenceNumber>" in good.content
