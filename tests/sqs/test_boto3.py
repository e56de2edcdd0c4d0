"""boto3 (the AWS JSON protocol) against a real ``ems serve``: the core SQS flows and errors.

boto3 itself checks nothing of the MD5s, so each test compares them with ems.sqs.checksums, whose
own test pins them to a known SQS value.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sqs import SQSClient

from ems.sqs.checksums import AttributeValue, md5_of_attributes, md5_of_body
from tests.e2e.server import EmsServer


def ems_id(sqs: SQSClient, url: str) -> str:
    # EmsQueueId is EMS's own attribute: the stubs do not know it
    names: Any = ["EmsQueueId"]
    found: Any = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return str(found["EmsQueueId"])


def test_create_send_receive_delete(sqs: SQSClient, queue_url: str) -> None:
    name = queue_url.rsplit("/", 1)[1]
    assert queue_url.endswith(f"/000000000000/{name}")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == queue_url
    # creating again with the same (or no) attributes is idempotent
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == queue_url
    attributes: dict[str, Any] = {
        "n": {"DataType": "Number", "StringValue": "42"},
        "s": {"DataType": "String", "StringValue": "héllo"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        "c": {"DataType": "String.custom", "StringValue": "x"},
    }
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="hello ✓", MessageAttributes=attributes)
    expected = {
        "n": AttributeValue("Number", string="42"),
        "s": AttributeValue("String", string="héllo"),
        "b": AttributeValue("Binary", binary=b"\x00\xff"),
        "c": AttributeValue("String.custom", string="x"),
    }
    assert sent["MD5OfMessageBody"] == md5_of_body("hello ✓")
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(expected)

    got = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hello ✓"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"] == attributes
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(message["Attributes"]["SentTimestamp"]) > 1_600_000_000_000

    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    # a retried delete succeeds
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"]
    assert counts["ApproximateNumberOfMessages"] == "0"

    assert queue_url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sqs.delete_queue(QueueUrl=queue_url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_only_the_requested_message_attributes_come_back(sqs: SQSClient, queue_url: str) -> None:
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="x",
        MessageAttributes={
            "trace.id": {"DataType": "String", "StringValue": "1"},
            "other": {"DataType": "String", "StringValue": "2"},
        },
    )
    message = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["trace.*"])[
        "Messages"
    ][0]
    assert message["MessageAttributes"] == {"trace.id": {"DataType": "String", "StringValue": "1"}}
    assert message["MD5OfMessageAttributes"] == md5_of_attributes(
        {"trace.id": AttributeValue("String", string="1")}
    )
    assert "Attributes" not in message


def test_batches(sqs: SQSClient, queue_url: str) -> None:
    sent = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
            {"Id": "bad", "MessageBody": "x", "MessageAttributes": {"AWS.x": {
                "DataType": "String", "StringValue": "v"}}},
        ],
    )  # fmt: skip
    assert sorted(e["Id"] for e in sent["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["SenderFault"], f["Code"]) for f in sent["Failed"]] == [
        ("bad", True, "InvalidParameterValue")
    ]
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "0", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "1", "ReceiptHandle": "forged", "VisibilityTimeout": 0},
        ],
    )
    assert [e["Id"] for e in changed["Successful"]] == ["0"]
    assert [(f["Id"], f["Code"]) for f in changed["Failed"]] == [("1", "ReceiptHandleIsInvalid")]
    again = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    deleted = sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "x", "ReceiptHandle": again[0]["ReceiptHandle"]},
            {"Id": "y", "ReceiptHandle": got[1]["ReceiptHandle"]},
        ],
    )
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["x", "y"]
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages") is None


def test_long_poll_returns_when_a_message_arrives(sqs: SQSClient, queue_url: str) -> None:
    def later() -> None:
        time.sleep(0.5)
        sqs.send_message(QueueUrl=queue_url, MessageBody="late")

    sender = threading.Thread(target=later)
    started = time.monotonic()
    sender.start()
    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)["Messages"]
    sender.join()
    assert [m["Body"] for m in got] == ["late"]
    assert time.monotonic() - started < 8


def test_change_visibility_makes_a_message_receivable_again(sqs: SQSClient, queue_url: str) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)["Messages"][0]
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages") is None
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    second = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["ApproximateReceiveCount"])
    assert second["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # the first receipt handle no longer holds the message: as SQS documents, a request with it
    # succeeds but leaves the message alone (see test_sqs_as_aws.py)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=first["ReceiptHandle"])
    stats = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert stats["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_dead_letter_redrive(sqs: SQSClient) -> None:
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})
    source = sqs.create_queue(
        QueueName=f"src-{suffix}", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    shown = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])
    assert json.loads(shown["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": arn,
        "maxReceiveCount": 2,
    }
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=source)["Messages"]) == 1
    assert sqs.receive_message(QueueUrl=source).get("Messages") is None
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]
    # clearing the policy detaches the queues
    sqs.set_queue_attributes(QueueUrl=source, Attributes={"RedrivePolicy": ""})
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == []


def test_attributes_and_tags(sqs: SQSClient, queue_url: str) -> None:
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "1"}
    )
    shown = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["VisibilityTimeout", "DelaySeconds"]
    )
    assert shown["Attributes"] == {"VisibilityTimeout": "45", "DelaySeconds": "1"}
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=queue_url.rsplit("/", 1)[1], Attributes={"DelaySeconds": "5"})
    sqs.tag_queue(QueueUrl=queue_url, Tags={"team": "a", "env": "dev"})
    sqs.untag_queue(QueueUrl=queue_url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=queue_url)["Tags"] == {"team": "a"}
    bad_values: list[Any] = [{"VisibilityTimeout": "43201"}, {"DelaySeconds": "soon"}]
    for bad in bad_values:
        with pytest.raises(sqs.exceptions.InvalidAttributeValue):
            sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=bad)
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"QueueArn": "x"})
    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
    sqs.purge_queue(QueueUrl=queue_url)
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "0"


def code_of(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_errors_are_the_ones_boto3_knows(sqs: SQSClient, queue_url: str) -> None:
    missing = queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as error:
        sqs.send_message(QueueUrl=missing, MessageBody="x")
    assert code_of(error.value) == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle="not-a-handle")
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as error:
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)],
        )
    assert code_of(error.value) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}],
        )
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": "no spaces", "ReceiptHandle": "h"}]
        )
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[])
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=queue_url, MessageBody="x" * (1_048_576 + 1))
    assert code_of(error.value) == "InvalidParameterValue"
    assert "shorter than 1048576" in error.value.response["Error"]["Message"]
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": "x" * 110_000} for i in range(10)],
        )
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=queue_url, MessageBody="bell \x07")
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName="bad name!")
    assert code_of(error.value) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.UnsupportedOperation):
        sqs.add_permission(QueueUrl=queue_url, Label="l", AWSAccountIds=["1"], Actions=["*"])
    with pytest.raises(ClientError) as error:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody="x",
            MessageAttributes={
                str(i): {"DataType": "String", "StringValue": "v"} for i in range(11)
            },
        )
    assert code_of(error.value) == "InvalidParameterValue"
    # nothing was sent by any of the refused requests
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"


def test_interop_with_the_native_api(server: EmsServer, sqs: SQSClient, queue_url: str) -> None:
    queue_id = ems_id(sqs, queue_url)
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="from boto3",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    native = httpx.get(f"{server.url}/ems/queue/{queue_id}/message").json()["messages"]
    # the sender (SenderId) is recorded as an attribute of EMS's own, by a name no client can use
    assert [(m["body"], m["attributes"]) for m in native] == [
        ("from boto3", {"kind": "greeting", "sqs:sender_id": "test"})
    ]
    deleted = httpx.delete(
        f"{server.url}/ems/queue/{queue_id}/message/{native[0]['receipt_handle']}"
    )
    assert deleted.status_code == 204

    sent = httpx.post(
        f"{server.url}/ems/queue/{queue_id}/message",
        content="from curl",
        headers={"ems-attribute-source": "native"},
    )
    assert sent.status_code == 201
    got = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert got[0]["MessageId"] == sent.json()["message_id"]
    assert got[0]["Body"] == "from curl"
    assert got[0]["MessageAttributes"] == {
        "source": {"DataType": "String", "StringValue": "native"}
    }
    assert got[0]["MD5OfMessageAttributes"] == md5_of_attributes(
        {"source": AttributeValue("String", string="native")}
    )
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got[0]["ReceiptHandle"])
    # a queue deleted through the native API is gone for SQS too
    assert httpx.delete(f"{server.url}/ems/queue/{queue_id}").status_code == 204
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=queue_url, MessageBody="too late")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=queue_url.rsplit("/", 1)[1])
