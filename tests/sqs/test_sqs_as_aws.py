"""Where EMS used to answer otherwise than SQS: one boto3 regression test per divergence
(issue 20), against a real ``ems serve``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sqs import SQSClient

from tests.e2e.server import EmsServer
from tests.sqs.conftest import client_for
from tests.sqs.test_boto3 import ems_id


def code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def message_of(error: ClientError) -> str:
    return str(error.response["Error"]["Message"])


def counts(sqs: SQSClient, url: str) -> tuple[int, int]:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(found["ApproximateNumberOfMessages"]),
        int(found["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_a_superseded_receipt_handle_succeeds_and_leaves_the_message(
    sqs: SQSClient, queue_url: str
) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody="twice")
    first = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"][0]
    second = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)["Messages"][0]
    old = first["ReceiptHandle"]
    assert old != second["ReceiptHandle"]
    # SQS: "If you use an old ReceiptHandle, the request will succeed, but the message might
    # not be deleted." EMS leaves it to the later receiver.
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=old)
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=old, VisibilityTimeout=0)
    batch_delete = sqs.delete_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": "a", "ReceiptHandle": old}]
    )
    assert [e["Id"] for e in batch_delete["Successful"]] == ["a"]
    batch_change = sqs.change_message_visibility_batch(
        QueueUrl=queue_url, Entries=[{"Id": "a", "ReceiptHandle": old, "VisibilityTimeout": 0}]
    )
    assert [e["Id"] for e in batch_change["Successful"]] == ["a"]
    assert counts(sqs, queue_url) == (0, 1)
    # the current handle still works; a handle that is no handle at all is still refused
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=second["ReceiptHandle"])
    assert counts(sqs, queue_url) == (0, 0)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle="not-a-handle")


def test_the_native_api_keeps_refusing_a_superseded_handle(
    server: EmsServer, sqs: SQSClient, queue_url: str
) -> None:
    queue_id = ems_id(sqs, queue_url)
    sqs.send_message(QueueUrl=queue_url, MessageBody="native")
    old = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"][0]
    sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)
    handle = old["ReceiptHandle"]
    answer = httpx.delete(f"{server.url}/ems/queue/{queue_id}/message/{handle}")
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("stale-receipt-handle")


def test_messages_of_a_mebibyte(sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName=f"big-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize"])
    assert found["Attributes"]["MaximumMessageSize"] == "1048576"
    sqs.send_message(QueueUrl=url, MessageBody="x" * 300_000)
    sqs.send_message(QueueUrl=url, MessageBody="y" * 1_048_576)
    # a batch may total 1 MiB
    batch = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "z" * 100_000} for i in range(10)]
    )
    assert len(batch["Successful"]) == 10
    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as error:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": "z" * 110_000} for i in range(10)],
        )
    assert message_of(error.value) == (
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1100000 bytes."
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert {len(m["Body"]) for m in got} == {300_000, 1_048_576}
    # each entry is checked against the queue's own limit
    small = sqs.create_queue(
        QueueName=f"small-{uuid.uuid4().hex[:8]}", Attributes={"MaximumMessageSize": "1024"}
    )["QueueUrl"]
    mixed = sqs.send_message_batch(
        QueueUrl=small,
        Entries=[{"Id": "ok", "MessageBody": "x" * 1024}, {"Id": "no", "MessageBody": "x" * 1025}],
    )
    assert [e["Id"] for e in mixed["Successful"]] == ["ok"]
    assert [e["Id"] for e in mixed["Failed"]] == ["no"]


def test_queue_url_forms(sqs: SQSClient, queue_url: str) -> None:
    name = queue_url.rsplit("/", 1)[1]
    # a bare queue name where a queue URL goes
    sqs.send_message(QueueUrl=name, MessageBody="by name")
    assert sqs.receive_message(QueueUrl=name)["Messages"][0]["Body"] == "by name"
    for unreadable in ("http://x/1/2", "not a url at all", "https://sqs.example/q"):
        with pytest.raises(sqs.exceptions.QueueDoesNotExist) as error:
            sqs.send_message(QueueUrl=unreadable, MessageBody="x")
        assert code_of(error.value) == "AWS.SimpleQueueService.NonExistentQueue"


def test_queues_live_in_their_region(server: EmsServer) -> None:
    west2 = client_for(server.url, region="us-west-2")
    west1 = client_for(server.url, region="us-west-1")
    name = f"regional-{uuid.uuid4().hex[:8]}"
    url = west2.create_queue(QueueName=name)["QueueUrl"]
    assert url not in west1.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert west2.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url]
    with pytest.raises(west1.exceptions.QueueDoesNotExist):
        west1.get_queue_url(QueueName=name)
    arn = west2.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert arn == f"arn:aws:sqs:us-west-2:000000000000:{name}"
    # the same name in another region is another queue
    other = west1.create_queue(QueueName=name)["QueueUrl"]
    west1.send_message(QueueUrl=other, MessageBody="west-1")
    assert west2.receive_message(QueueUrl=url).get("Messages") is None
    # a dead-letter queue is in the queue's own region
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    with pytest.raises(west1.exceptions.QueueDoesNotExist):
        west1.set_queue_attributes(QueueUrl=other, Attributes={"RedrivePolicy": policy})


def test_tags_and_purge_are_validated_as_on_aws(sqs: SQSClient, queue_url: str) -> None:
    with pytest.raises(ClientError) as error:
        sqs.tag_queue(QueueUrl=queue_url, Tags={})
    assert code_of(error.value) == "MissingParameter"
    with pytest.raises(ClientError) as error:
        sqs.untag_queue(QueueUrl=queue_url, TagKeys=[])
    assert code_of(error.value) == "MissingParameter"
    sqs.send_message(QueueUrl=queue_url, MessageBody="purged")
    sqs.purge_queue(QueueUrl=queue_url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as error:
        sqs.purge_queue(QueueUrl=queue_url)
    name = queue_url.rsplit("/", 1)[1]
    assert message_of(error.value) == (
        f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
    )


@pytest.mark.parametrize(
    ("action", "entries", "message"),
    [
        ("send_message_batch", [], "There should be at least one SendMessageBatchRequestEntry "
         "in the request."),
        ("delete_message_batch", [], "There should be at least one "
         "DeleteMessageBatchRequestEntry in the request."),
        ("change_message_visibility_batch", [], "There should be at least one "
         "ChangeMessageVisibilityBatchRequestEntry in the request."),
        ("send_message_batch", [{"Id": "a", "MessageBody": "x"}] * 2, "Id a repeated."),
        ("delete_message_batch", [{"Id": "b", "ReceiptHandle": "h"}] * 2, "Id b repeated."),
        ("change_message_visibility_batch",
         [{"Id": "c", "ReceiptHandle": "h", "VisibilityTimeout": 1}] * 2, "Id c repeated."),
        ("send_message_batch", [{"Id": str(i), "MessageBody": "x"} for i in range(11)],
         "Maximum number of entries per request are 10. You have sent 11."),
        ("delete_message_batch", [{"Id": "no spaces", "ReceiptHandle": "h"}],
         "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
         "It can be at most 80 letters long."),
    ],
)  # fmt: skip
def test_batch_errors_in_aws_words(
    sqs: SQSClient, queue_url: str, action: str, entries: list[Any], message: str
) -> None:
    with pytest.raises(ClientError) as error:
        getattr(sqs, action)(QueueUrl=queue_url, Entries=entries)
    assert message_of(error.value) == message


def test_system_attributes_policy_and_wildcards(sqs: SQSClient, queue_url: str) -> None:
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    attributes: Any = {
        name: {"DataType": "String", "StringValue": name}
        for name in ("Custom", "Custom.a", "CustomerId", "Other")
    }
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="traced",
        MessageAttributes=attributes,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}},
    )
    (got,) = sqs.receive_message(
        QueueUrl=queue_url,
        MessageSystemAttributeNames=["SenderId", "AWSTraceHeader"],
        MessageAttributeNames=["Custom.*"],
    )["Messages"]
    assert got["Attributes"] == {"SenderId": "test", "AWSTraceHeader": trace}
    # "Custom.*": every attribute whose name starts with "Custom"
    assert sorted(got["MessageAttributes"]) == ["Custom", "Custom.a", "CustomerId"]
    unknown: Any = {"Other": {"DataType": "String", "StringValue": "v"}}
    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=queue_url, MessageBody="x", MessageSystemAttributes=unknown)
    assert code_of(error.value) == "InvalidParameterValue"

    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
    found = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    assert found["Attributes"] == {"Policy": policy}
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": "not json"})
    assert code_of(error.value) == "InvalidAttributeValue"
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": ""})
    cleared = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    assert "Attributes" not in dict(cleared)
    with pytest.raises(sqs.exceptions.UnsupportedOperation) as refused:
        sqs.add_permission(QueueUrl=queue_url, Label="l", AWSAccountIds=["1"], Actions=["*"])
    assert "not enforced" in message_of(refused.value)
    with pytest.raises(sqs.exceptions.UnsupportedOperation):
        sqs.remove_permission(QueueUrl=queue_url, Label="l")
