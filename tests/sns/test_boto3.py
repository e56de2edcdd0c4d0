"""boto3's SNS client against a real ``ems serve``: topics, queue subscriptions, publishing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import EmsServer
from tests.sns.conftest import new_queue, receive_all


def code_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    error = raised.value.response["Error"]
    status = raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error["Message"], status


def test_topic_to_queue_delivers_the_envelope_and_curl_reads_it(
    server: EmsServer, sns: Any, sqs: Any, topic_arn: str
) -> None:
    url, queue_arn = new_queue(sqs)
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    assert subscription["SubscriptionArn"].startswith(topic_arn + ":")
    published = sns.publish(
        TopicArn=topic_arn, Message="seat freed", Subject="CS 61A",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "seat"},
                           "seat": {"DataType": "Number", "StringValue": "14"}},
    )  # fmt: skip
    # the same queue through EMS's native API, with curl's eyes
    ems_id = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["EmsQueueId"])
    native = httpx.get(
        f"{server.url}/ems/queue/{ems_id['Attributes']['EmsQueueId']}/message?wait_seconds=5"
    )
    (message,) = native.json()["messages"]
    envelope = json.loads(message["body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "CS 61A"
    assert envelope["Message"] == "seat freed"
    assert envelope["SignatureVersion"] == "1"
    assert envelope["SigningCertURL"].startswith(f"{server.url}/ems/sns/")
    assert envelope["UnsubscribeURL"].startswith(f"{server.url}/?Action=Unsubscribe&")
    assert envelope["MessageAttributes"] == {
        "kind": {"Type": "String", "Value": "seat"},
        "seat": {"Type": "Number", "Value": "14"},
    }
    assert message["attributes"] == {}  # the envelope carries them


def test_raw_delivery_keeps_the_body_and_the_attributes(sns: Any, sqs: Any, topic_arn: str) -> None:
    url, queue_arn = new_queue(sqs)
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )  # fmt: skip
    sns.publish(
        TopicArn=topic_arn, Message="raw body",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "5"},
                           "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    )  # fmt: skip
    (message,) = receive_all(sqs, url, 1, attributes=True)
    assert message["Body"] == "raw body"
    assert message["MessageAttributes"] == {
        "n": {"StringValue": "5", "DataType": "Number"},
        "b": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
    }


def test_message_structure_json_sends_each_protocol_its_message(
    sns: Any, sqs: Any, topic_arn: str
) -> None:
    url, queue_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(
        TopicArn=topic_arn, MessageStructure="json",
        Message=json.dumps({"default": "for everyone", "sqs": "for queues"}),
    )  # fmt: skip
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"])["Message"] == "for queues"
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=topic_arn, MessageStructure="json", Message='{"sqs": "x"}')
    assert code_of(raised) == (
        "InvalidParameter",
        "Invalid parameter: Message Structure - No default entry in JSON message body",
        400,
    )


def test_topics_are_idempotent_listed_in_pages_and_deleted(sns: Any) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    arn = sns.create_topic(Name=prefix, Attributes={"DisplayName": "Seats"})["TopicArn"]
    assert sns.create_topic(Name=prefix, Attributes={"DisplayName": "Seats"})["TopicArn"] == arn
    with pytest.raises(ClientError) as raised:
        sns.create_topic(Name=prefix, Attributes={"DisplayName": "Other"})
    assert code_of(raised) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
        400,
    )
    made = [sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105)]
    listed: list[str] = []
    for page in sns.get_paginator("list_topics").paginate():
        assert len(page["Topics"]) <= 100
        listed += [t["TopicArn"] for t in page["Topics"]]
    assert set(made) | {arn} <= set(listed)
    assert len(listed) == len(set(listed))
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Seats"
    assert attributes["TopicArn"] == arn
    assert (
        json.loads(attributes["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"][
            "numRetries"
        ]
        == 3
    )
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SignatureVersion"] == "2"
    for each in [*made, arn]:
        sns.delete_topic(TopicArn=each)
    sns.delete_topic(TopicArn=arn)  # again: succeeds, as in SNS
    with pytest.raises(ClientError) as raised:
        sns.get_topic_attributes(TopicArn=arn)
    assert code_of(raised) == ("NotFound", "Topic does not exist", 404)


def test_subscriptions_list_page_and_unsubscribe(sns: Any, sqs: Any, topic_arn: str) -> None:
    arns = []
    for _ in range(3):
        _, queue_arn = new_queue(sqs)
        arns.append(
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
        )
    by_topic = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in by_topic] == arns
    assert {s["Protocol"] for s in by_topic} == {"sqs"}
    everything = [
        s["SubscriptionArn"]
        for page in sns.get_paginator("list_subscriptions").paginate()
        for s in page["Subscriptions"]
    ]
    assert set(arns) <= set(everything)
    attributes = sns.get_subscription_attributes(SubscriptionArn=arns[0])["Attributes"]
    assert attributes["TopicArn"] == topic_arn
    assert attributes["PendingConfirmation"] == "false"
    sns.unsubscribe(SubscriptionArn=arns[0])
    left = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in left] == arns[1:]


def test_tags(sns: Any, topic_arn: str) -> None:
    sns.tag_resource(ResourceArn=topic_arn, Tags=[{"Key": "team", "Value": "seats"},
                                                  {"Key": "env", "Value": "dev"}])  # fmt: skip
    sns.untag_resource(ResourceArn=topic_arn, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == [
        {"Key": "team", "Value": "seats"}
    ]
    with pytest.raises(ClientError) as raised:
        sns.tag_resource(
            ResourceArn=topic_arn, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)]
        )
    assert code_of(raised)[0] == "TagLimitExceeded"
    with pytest.raises(ClientError) as raised:
        sns.list_tags_for_resource(ResourceArn=topic_arn + "-gone")
    assert code_of(raised) == ("ResourceNotFound", "Resource does not exist", 404)


def test_publish_batch_reports_each_entry(sns: Any, sqs: Any, topic_arn: str) -> None:
    url, queue_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    answer = sns.publish_batch(
        TopicArn=topic_arn,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {"Id": "b", "Message": "two", "Subject": "bad\nsubject"},
            {"Id": "c", "Message": "three"},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["a", "c"]
    assert answer["Failed"] == [
        {"Id": "b", "Code": "InvalidParameter", "Message": "Invalid parameter: Subject",
         "SenderFault": True}
    ]  # fmt: skip
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2)) == ["one", "three"]
    for entries, code in [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(i), "Message": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "x", "Message": "1"}, {"Id": "x", "Message": "2"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "no spaces", "Message": "1"}], "InvalidBatchEntryId"),
        ([{"Id": str(i), "Message": "x" * 30_000} for i in range(10)], "BatchRequestTooLong"),
    ]:
        with pytest.raises(ClientError) as raised:
            sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
        assert code_of(raised)[0] == code


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ({"Name": "bad name"}, "Topic names must be made up of"),
        ({"Name": "k", "Attributes": {"KmsMasterKeyId": "x"}}, "does not support"),
    ],
)
def test_what_ems_does_not_do_is_refused_clearly(
    sns: Any, call: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ClientError) as raised:
        sns.create_topic(**call)
    code, message, status = code_of(raised)
    assert (code, status) == ("InvalidParameter", 400)
    assert expected in message


def test_refused_subscriptions_and_publishes(sns: Any, sqs: Any, topic_arn: str) -> None:
    _, queue_arn = new_queue(sqs)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Protocol": "email", "Endpoint": "a@example.com"}, "EMS_SMTP_URL"),  # no SMTP here
        ({"Protocol": "email", "Endpoint": "a@example.com",
          "Attributes": {"DeliveryPolicy": "{}"}}, "only for HTTP(S)"),
        ({"Protocol": "sms", "Endpoint": "+15550100"}, "does not support this protocol"),
        ({"Protocol": "https", "Endpoint": "http://example.com/x"}, "match the specified protocol"),
        ({"Protocol": "sqs", "Endpoint": queue_arn + "-gone"}, "SQS endpoint ARN"),
        ({"Protocol": "sqs", "Endpoint": queue_arn,
          "Attributes": {"FilterPolicy": '{"a": {"b": ["c"]}}'}},
         "FilterPolicy: Filter policy scope MessageAttributes does not support nested filter "
         "policy"),
        ({"Protocol": "sqs", "Endpoint": queue_arn, "Attributes": {"Colour": "red"}},
         "Unknown attribute"),
    ]  # fmt: skip
    for call, expected in cases:
        with pytest.raises(ClientError) as raised:
            sns.subscribe(TopicArn=topic_arn, **call)
        code, message, _ = code_of(raised)
        assert code == "InvalidParameter", call
        assert expected in message, (call, message)
    for publish, expected in [
        ({"Message": ""}, "Invalid parameter: Empty message"),
        ({"Message": "x" * 262_145}, "Invalid parameter: Message too long"),
        ({"Message": "x", "Subject": "s" * 100}, "Invalid parameter: Subject"),
        ({"Message": "x", "MessageDeduplicationId": "d"}, "MessageDeduplicationId"),
    ]:
        with pytest.raises(ClientError) as raised:
            sns.publish(TopicArn=topic_arn, **publish)
        assert expected in code_of(raised)[1]
    with pytest.raises(ClientError) as raised:
        sns.publish(
            TopicArn=topic_arn, Message="x",
            MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}},
        )  # fmt: skip
    assert code_of(raised)[0] == "ParameterValueInvalid"


def test_an_unknown_action_is_an_sns_error(server: EmsServer) -> None:
    answer = httpx.post(server.url, data={"Action": "CreatePlatformApplication",
                                          "Version": "2010-03-31"})  # fmt: skip
    assert answer.status_code == 400
    assert b"<Code>InvalidAction</Code>" in answer.content
    assert b"http://sns.amazonaws.com/doc/2010-03-31/" in answer.content
