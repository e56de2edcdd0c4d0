"""SNS FIFO topics with boto3 against a real ``ems serve``: ``.fifo`` names and attributes,
group and deduplication ids, SequenceNumber, SQS FIFO subscriptions only, and AWS's errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sns.test_boto3 import code_of


def fifo_topic(sns: Any, **attributes: str) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}.fifo"
    arn: str = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", **attributes})[
        "TopicArn"
    ]
    return arn


def fifo_queue(sqs: Any) -> tuple[str, str]:
    url: str = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:12]}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attributes["Attributes"]["QueueArn"]


def refused(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return code_of(raised)


def test_fifo_topics_are_created_with_their_attributes(sns: Any) -> None:
    arn = fifo_topic(sns)
    assert arn.endswith(".fifo")
    shown = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (shown["FifoTopic"], shown["ContentBasedDeduplication"]) == ("true", "false")
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true"
    )
    shown = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert shown["ContentBasedDeduplication"] == "true"
    name = arn.rsplit(":", 1)[1]
    again = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})
    assert again["TopicArn"] == arn
    code, message, status = refused(
        sns.create_topic, Name="orders", Attributes={"FifoTopic": "true"}
    )
    assert (code, status) == ("InvalidParameter", 400)
    assert "Fifo Topic names must end with .fifo" in message
    assert refused(sns.create_topic, Name="orders.fifo")[1] == "Invalid parameter: Topic Name"
    standard = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    _, message, _ = refused(
        sns.set_topic_attributes,
        TopicArn=standard,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="true",
    )
    assert "only be set for FIFO topics" in message
    _, message, _ = refused(
        sns.set_topic_attributes, TopicArn=arn, AttributeName="FifoTopic", AttributeValue="false"
    )
    assert message == "Invalid parameter: AttributeName"


def test_only_sqs_fifo_queues_subscribe_to_a_fifo_topic(sns: Any, sqs: Any) -> None:
    arn = fifo_topic(sns)
    _, fifo_arn = fifo_queue(sqs)
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=fifo_arn)["SubscriptionArn"]
    standard_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    standard_arn = sqs.get_queue_attributes(QueueUrl=standard_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert refused(sns.subscribe, TopicArn=arn, Protocol="sqs", Endpoint=standard_arn)[1] == (
        "Invalid parameter: Invalid parameter: Endpoint Reason: Please use FIFO SQS queue"
    )
    http = refused(sns.subscribe, TopicArn=arn, Protocol="https", Endpoint="https://e.example/x")
    assert http[1] == "Invalid parameter: Invalid protocol type: https"
    standard_topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    assert refused(sns.subscribe, TopicArn=standard_topic, Protocol="sqs", Endpoint=fifo_arn)[
        1
    ] == (
        "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
        "subscribed to standard SNS topics"
    )


def test_what_a_fifo_publish_needs(sns: Any) -> None:
    arn = fifo_topic(sns)
    _, message, _ = refused(sns.publish, TopicArn=arn, Message="x", MessageDeduplicationId="d")
    assert message == "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    _, message, _ = refused(sns.publish, TopicArn=arn, Message="x", MessageGroupId="g")
    assert message == (
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )
    entries = [{"Id": "a", "Message": "x", "MessageDeduplicationId": "d"}]
    _, message, _ = refused(sns.publish_batch, TopicArn=arn, PublishBatchRequestEntries=entries)
    assert "MessageGroupId parameter is required" in message


def test_each_fifo_queue_gets_every_group_in_order_once(sns: Any, sqs: Any) -> None:
    arn = fifo_topic(sns, ContentBasedDeduplication="true")
    raw_url, raw_arn = fifo_queue(sqs)
    enveloped_url, enveloped_arn = fifo_queue(sqs)
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=enveloped_arn)
    answers = [
        sns.publish(TopicArn=arn, Message=body, MessageGroupId=group)
        for body, group in [("a0", "a"), ("b0", "b"), ("a1", "a")]
    ]
    numbers = [int(answer["SequenceNumber"]) for answer in answers]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3
    repeat = sns.publish(TopicArn=arn, Message="a0", MessageGroupId="a")
    assert repeat["MessageId"] == answers[0]["MessageId"]
    batch = sns.publish_batch(
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "b1", "MessageGroupId": "b"},
            {"Id": "two", "Message": "a2", "MessageGroupId": "a", "MessageDeduplicationId": "x"},
        ],
    )
    assert [entry["Id"] for entry in batch["Successful"]] == ["one", "two"]
    assert all(entry["SequenceNumber"] for entry in batch["Successful"])
    by_group: dict[str, list[str]] = {}
    for _ in range(10):  # each receive takes what the groups not in flight offer
        answer = sqs.receive_message(
            QueueUrl=raw_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            group = message["Attributes"]["MessageGroupId"]
            by_group.setdefault(group, []).append(message["Body"])
            sqs.delete_message(QueueUrl=raw_url, ReceiptHandle=message["ReceiptHandle"])
        if sum(map(len, by_group.values())) == 5:
            break
    assert by_group == {"a": ["a0", "a1", "a2"], "b": ["b0", "b1"]}
    (envelope_message,) = sqs.receive_message(QueueUrl=enveloped_url, WaitTimeSeconds=5)["Messages"]
    envelope = json.loads(envelope_message["Body"])
    assert (envelope["Message"], envelope["MessageId"]) == ("a0", answers[0]["MessageId"])
    assert envelope["SequenceNumber"] == answers[0]["SequenceNumber"]
    assert "Signature" not in envelope
