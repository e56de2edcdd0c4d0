"""FIFO queues through the SQS API: boto3, unchanged, against a real ``ems serve``."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sqs import SQSClient

ALL: Any = ["All"]


def fifo_queue(sqs: SQSClient, **attributes: str) -> str:
    name = f"f-{uuid.uuid4().hex[:12]}.fifo"
    given: Any = {"FifoQueue": "true", **attributes}
    return sqs.create_queue(QueueName=name, Attributes=given)["QueueUrl"]


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def receive(sqs: SQSClient, url: str, count: int = 10, **more: Any) -> list[dict[str, Any]]:
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=count, MessageSystemAttributeNames=ALL, **more
    )
    found: list[dict[str, Any]] = [dict(m) for m in got.get("Messages", [])]
    return found


def delete(sqs: SQSClient, url: str, message: dict[str, Any]) -> None:
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_fifo_queue_is_created_listed_and_described(sqs: SQSClient) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    name = url.rsplit("/", 1)[1]
    assert url.endswith(f"/000000000000/{name}")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name[:-3])["QueueUrls"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=ALL)["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["DeduplicationScope"] == "queue"
    assert attributes["FifoThroughputLimit"] == "perQueue"
    assert attributes["QueueArn"].endswith(f":{name}")
    # creating it again with the same attributes is the same queue; with others, an error
    again = sqs.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )
    assert again["QueueUrl"] == url
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})
    assert refusal(error)[0] == "QueueAlreadyExists"
    high = fifo_queue(
        sqs, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    described = sqs.get_queue_attributes(QueueUrl=high, AttributeNames=ALL)["Attributes"]
    assert described["DeduplicationScope"] == "messageGroup"
    assert described["FifoThroughputLimit"] == "perMessageGroupId"
    assert described["ContentBasedDeduplication"] == "false"
    # a standard queue shows no FIFO attributes
    standard = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    shown = sqs.get_queue_attributes(QueueUrl=standard, AttributeNames=ALL)["Attributes"]
    assert "FifoQueue" not in shown


def test_invalid_queue_attributes_in_aws_words(sqs: SQSClient) -> None:
    cases: list[tuple[str, Any, str, str]] = [
        ("plain", {"FifoQueue": "true"}, "InvalidParameterValue",
         "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
         "underscores, must end with .fifo suffix and be 1 to 80 in length"),
        ("dotted.fifo", {}, "InvalidParameterValue",
         "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"),
        ("plain", {"DeduplicationScope": "queue"}, "InvalidAttributeName",
         "You can specify the DeduplicationScope only when FifoQueue is set to true."),
        ("plain", {"FifoThroughputLimit": "perQueue"}, "InvalidAttributeName",
         "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
        ("plain", {"ContentBasedDeduplication": "true"}, "InvalidAttributeName",
         "Unknown Attribute ContentBasedDeduplication."),
        ("x.fifo", {"FifoQueue": "true", "FifoThroughputLimit": "perMessageGroupId"},
         "InvalidAttributeValue",
         "Invalid value for the parameter FifoThroughputLimit. Reason: To set "
         "FifoThroughputLimit to perMessageGroupId, the DeduplicationScope must be messageGroup."),
        ("x.fifo", {"FifoQueue": "true", "DeduplicationScope": "group"}, "InvalidAttributeValue",
         "Invalid value for the parameter DeduplicationScope."),
        ("x.fifo", {"FifoQueue": "yes"}, "InvalidAttributeValue",
         "Invalid value for the parameter FifoQueue."),
    ]  # fmt: skip
    for name, attributes, code, message in cases:
        with pytest.raises(ClientError) as error:
            sqs.create_queue(QueueName=name, Attributes=attributes)
        got = refusal(error)
        assert got[0] == code, (name, attributes, got)
        assert got[1].startswith(message), (name, attributes, got)
        assert got[2] == 400
    assert sqs.list_queues(QueueNamePrefix="x").get("QueueUrls", []) == []


def test_set_queue_attributes_changes_the_fifo_settings_not_the_type(sqs: SQSClient) -> None:
    url = fifo_queue(sqs)
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert refusal(error)[:2] == (
        "InvalidAttributeValue",
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
    )
    # the values it has are accepted (tools write every attribute back)
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false",
                    "DeduplicationScope": "queue", "VisibilityTimeout": "40"},
    )  # fmt: skip
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"FifoThroughputLimit": "perMessageGroupId"}
        )
    assert refusal(error)[0] == "InvalidAttributeValue"
    # content-based deduplication turned on: a send without a deduplication id is taken
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    sqs.send_message(QueueUrl=url, MessageBody="by content", MessageGroupId="g")
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=ALL)["Attributes"]
    assert attributes["VisibilityTimeout"] == "40"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["DeduplicationScope"] == "messageGroup"
    assert attributes["FifoThroughputLimit"] == "perMessageGroupId"
    standard = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=standard, Attributes={"DeduplicationScope": "queue"})
    assert refusal(error)[:2] == (
        "InvalidAttributeName",
        "You can specify the DeduplicationScope only when FifoQueue is set to true.",
    )
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=standard, Attributes={"FifoQueue": "true"})
    assert refusal(error)[:2] == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")


def test_invalid_sends_in_aws_words(sqs: SQSClient) -> None:
    url = fifo_queue(sqs)
    standard = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (url, {"MessageDeduplicationId": "d"}, "MissingParameter",
         "The request must contain the parameter MessageGroupId."),
        (url, {"MessageGroupId": "g"}, "InvalidParameterValue",
         "The queue should either have ContentBasedDeduplication enabled or "
         "MessageDeduplicationId provided explicitly"),
        (url, {"MessageGroupId": "g", "MessageDeduplicationId": "d", "DelaySeconds": 5},
         "InvalidParameterValue",
         "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter "
         "that is not valid for this queue type."),
        (url, {"MessageGroupId": "a group", "MessageDeduplicationId": "d"},
         "InvalidParameterValue",
         "Value 'a group' for parameter MessageGroupId is invalid. Reason: MessageGroupId can "
         "only include alphanumeric and punctuation characters. 1 to 128 in length."),
        (url, {"MessageGroupId": "g", "MessageDeduplicationId": "d" * 129},
         "InvalidParameterValue", "Value 'ddd"),
        (standard, {"MessageDeduplicationId": "d"}, "InvalidParameterValue",
         "Value d for parameter MessageDeduplicationId is invalid. Reason: The request includes "
         "a parameter that is not valid for this queue type."),
    ]  # fmt: skip
    for queue, params, code, message in cases:
        with pytest.raises(ClientError) as error:
            sqs.send_message(QueueUrl=queue, MessageBody="m", **params)
        got = refusal(error)
        assert (got[0], got[2]) == (code, 400), (params, got)
        assert got[1].startswith(message), (params, got)
    # in a batch, each refused entry fails alone; DelaySeconds 0 is taken
    sent = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "m", "MessageGroupId": "g",
             "MessageDeduplicationId": "1", "DelaySeconds": 0},
            {"Id": "nogroup", "MessageBody": "m", "MessageDeduplicationId": "2"},
        ],
    )  # fmt: skip
    assert [s["Id"] for s in sent["Successful"]] == ["ok"]
    assert [(f["Id"], f["Code"]) for f in sent["Failed"]] == [("nogroup", "MissingParameter")]
    assert sent["Successful"][0]["SequenceNumber"]
    assert [m["Body"] for m in receive(sqs, url)] == ["m"]


def test_deduplication_answers_the_original_and_outlives_the_delete(sqs: SQSClient) -> None:
    url = fifo_queue(sqs)
    first = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    again = sqs.send_message(
        QueueUrl=url, MessageBody="other", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    assert again["MessageId"] == first["MessageId"]
    (message,) = receive(sqs, url)
    assert message["Body"] == "a"
    assert message["Attributes"]["MessageGroupId"] == "g"
    assert message["Attributes"]["MessageDeduplicationId"] == "d1"
    assert message["Attributes"]["SequenceNumber"] == first["SequenceNumber"]
    delete(sqs, url, message)
    # ElasticMQ #354: the id is remembered after its message was deleted
    late = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    assert late["MessageId"] == first["MessageId"]
    assert receive(sqs, url) == []


def test_content_based_deduplication(sqs: SQSClient) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="a")
    # message attributes do not count; the body decides, in any group under queue scope
    repeat = sqs.send_message(
        QueueUrl=url, MessageBody="same", MessageGroupId="b",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )  # fmt: skip
    assert repeat["MessageId"] == first["MessageId"]
    # an explicit id overrides the body's hash
    other = sqs.send_message(
        QueueUrl=url, MessageBody="same", MessageGroupId="a", MessageDeduplicationId="x"
    )
    assert other["MessageId"] != first["MessageId"]
    got = receive(sqs, url)
    assert [m["Body"] for m in got] == ["same", "same"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
    assert got[1]["Attributes"]["MessageDeduplicationId"] == "x"


def test_deduplication_scope_is_honoured(sqs: SQSClient) -> None:
    """LocalStack #10460: the same id in two groups under messageGroup scope stores both;
    floci #901: under queue scope it stores one."""
    by_group = fifo_queue(sqs, DeduplicationScope="messageGroup")
    by_queue = fifo_queue(sqs, DeduplicationScope="queue")
    for url in (by_group, by_queue):
        for group in ("a", "b"):
            sqs.send_message(
                QueueUrl=url, MessageBody=group, MessageGroupId=group, MessageDeduplicationId="d"
            )
    assert sorted(m["Body"] for m in receive(sqs, by_group)) == ["a", "b"]
    assert [m["Body"] for m in receive(sqs, by_queue)] == ["a"]


def test_a_group_waits_for_its_message_in_flight(sqs: SQSClient) -> None:
    """LocalStack #6762/#12457: later messages of a group stay back while an earlier one is
    invisible; other groups still come."""
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    (a1,) = receive(sqs, url, 1)
    assert a1["Body"] == "a1"
    assert [m["Body"] for m in receive(sqs, url)] == ["b1"]
    assert receive(sqs, url) == []
    # a1 back to visible: it comes again, first, with the rest of its group behind it
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=a1["ReceiptHandle"],
                                  VisibilityTimeout=0)  # fmt: skip
    again = receive(sqs, url)
    assert [m["Body"] for m in again] == ["a1", "a2", "a3"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    numbers = [int(m["Attributes"]["SequenceNumber"]) for m in again]
    assert numbers == sorted(numbers)
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(again)],
    )
    assert receive(sqs, url) == []


def test_a_batch_keeps_its_order(sqs: SQSClient) -> None:
    """ElasticMQ #267."""
    url = fifo_queue(sqs)
    sent = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "g",
             "MessageDeduplicationId": f"d{i}"}
            for i in range(10)
        ],
    )  # fmt: skip
    assert [s["Id"] for s in sent["Successful"]] == [f"e{i}" for i in range(10)]
    numbers = [int(s["SequenceNumber"]) for s in sent["Successful"]]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 10
    got = receive(sqs, url)
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(10)]
    assert [m["MessageId"] for m in got] == [s["MessageId"] for s in sent["Successful"]]


def test_message_group_id_on_a_standard_queue(sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    sent: dict[str, Any] = dict(
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="tenant-1")
    )
    assert "SequenceNumber" not in sent
    (message,) = receive(sqs, url)
    assert message["Attributes"]["MessageGroupId"] == "tenant-1"
    assert "SequenceNumber" not in message["Attributes"]


def test_dead_letter_queues_of_fifo_queues(sqs: SQSClient) -> None:
    dead = fifo_queue(sqs)
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    arn = dead_arn["Attributes"]["QueueArn"]
    standard = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    policy = f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"1"}}'
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(QueueUrl=standard, Attributes={"RedrivePolicy": policy})
    assert refusal(error)[:2] == (
        "InvalidParameterValue",
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead-letter target "
        "must be same type of queue as source.",
    )
    url = fifo_queue(sqs, RedrivePolicy=policy, VisibilityTimeout="0")
    for body in ("p1", "p2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g",
                         MessageDeduplicationId=body)  # fmt: skip
    assert [m["Body"] for m in receive(sqs, url, 1)] == ["p1"]
    # received once already: the next receive moves p1 to the dead-letter queue and
    # its group moves on
    (p2,) = receive(sqs, url, 1)
    assert p2["Body"] == "p2"
    delete(sqs, url, p2)
    moved = receive(sqs, dead)
    assert [m["Body"] for m in moved] == ["p1"]
    assert moved[0]["Attributes"]["MessageGroupId"] == "g"
    sqs.change_message_visibility(QueueUrl=dead, ReceiptHandle=moved[0]["ReceiptHandle"],
                                  VisibilityTimeout=0)  # fmt: skip
    # redriven to a FIFO queue only, as on SQS
    standard_arn = sqs.get_queue_attributes(QueueUrl=standard, AttributeNames=["QueueArn"])
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(
            SourceArn=arn, DestinationArn=standard_arn["Attributes"]["QueueArn"]
        )
    assert refusal(error)[0] == "InvalidParameterValue"
    # back to its source, behind what its group received since, still in its group
    sqs.send_message(QueueUrl=url, MessageBody="p3", MessageGroupId="g",
                     MessageDeduplicationId="p3")  # fmt: skip
    sqs.start_message_move_task(SourceArn=arn)
    for _ in range(100):
        (task,) = sqs.list_message_move_tasks(SourceArn=arn)["Results"]
        if task["Status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert task["Status"] == "COMPLETED"
    back = receive(sqs, url)
    assert [m["Body"] for m in back] == ["p3", "p1"]
    assert back[1]["Attributes"]["MessageGroupId"] == "g"


def test_purge_empties_a_fifo_queue(sqs: SQSClient) -> None:
    url = fifo_queue(sqs)
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="1"
    )
    sqs.purge_queue(QueueUrl=url)
    assert receive(sqs, url) == []
    # the deduplication ids outlive the purge, as they outlive a delete
    again: dict[str, Any] = dict(
        sqs.send_message(
            QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="1"
        )
    )
    assert again["MessageId"] == sent["MessageId"]
    assert "SequenceNumber" not in again  # its message is gone
    assert receive(sqs, url) == []


def test_a_retried_receive_answers_the_same_messages_and_handles(sqs: SQSClient) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = receive(sqs, url, 2, ReceiveRequestAttemptId="try-1", VisibilityTimeout=30)
    assert [m["Body"] for m in first] == ["a1", "a2"]
    retried = receive(sqs, url, 2, ReceiveRequestAttemptId="try-1")
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retried] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in first
    ]
    assert retried[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    # another attempt id is another receive
    assert [m["Body"] for m in receive(sqs, url, 2, ReceiveRequestAttemptId="try-2")] == ["b1"]
    # a deleted message ends the replay: the retry is a new receive (group a is in flight)
    delete(sqs, url, first[0])
    assert receive(sqs, url, 2, ReceiveRequestAttemptId="try-1") == []


def test_a_visibility_change_ends_a_receive_attempt(sqs: SQSClient) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g")
    (first,) = receive(sqs, url, ReceiveRequestAttemptId="same")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=0)  # fmt: skip
    (again,) = receive(sqs, url, ReceiveRequestAttemptId="same")
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    with pytest.raises(ClientError) as error:
        receive(sqs, url, ReceiveRequestAttemptId="not ok")
    assert refusal(error)[:2] == (
        "InvalidParameterValue",
        "Value 'not ok' for parameter ReceiveRequestAttemptId is invalid. Reason: "
        "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. "
        "1 to 128 in length.",
    )


def test_a_standard_queue_ignores_the_attempt_id(sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName=f"s-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    for body in ("1", "2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    got = [receive(sqs, url, 1, ReceiveRequestAttemptId="x")[0]["Body"] for _ in range(2)]
    assert sorted(got) == ["1", "2"]
