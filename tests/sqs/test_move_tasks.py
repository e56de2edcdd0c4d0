"""StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask through boto3 and the
AWS CLI against a real ``ems serve``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sqs import SQSClient

from tests.e2e.server import EmsServer
from tests.sqs.test_awscli import aws, aws_fails


def arn_of(sqs: SQSClient, url: str) -> str:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return found["Attributes"]["QueueArn"]


def dead_letter_pair(sqs: SQSClient, count: int) -> tuple[str, str, str]:
    """A source queue whose ``count`` messages went to its dead-letter queue: (source URL, DLQ
    URL, DLQ ARN)."""
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = sqs.create_queue(
        QueueName=f"src-{suffix}", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[
                {"Id": str(i), "MessageBody": f"m{i}",
                 "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i)}}}
                for i in range(start, min(start + 10, count))
            ],
        )  # fmt: skip
    received = 0
    while received < count:
        received += len(sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"])
    # the next receives move them all to the dead-letter queue
    while sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages"):
        pass
    assert dlq_count(sqs, dlq) == count
    return source, dlq, dlq_arn


def dlq_count(sqs: SQSClient, url: str) -> int:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(found["Attributes"]["ApproximateNumberOfMessages"])


def wait_for(sqs: SQSClient, dlq_arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        if task["Status"] == status:
            return dict(task)
        time.sleep(0.1)
    raise AssertionError(f"the task did not become {status}: {task}")


def test_messages_return_to_their_source(sqs: SQSClient) -> None:
    source, dlq, dlq_arn = dead_letter_pair(sqs, 5)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    done = wait_for(sqs, dlq_arn, "COMPLETED")
    assert done["ApproximateNumberOfMessagesMoved"] == 5
    assert done["ApproximateNumberOfMessagesToMove"] == 5
    assert done["SourceArn"] == dlq_arn
    assert "TaskHandle" not in done  # only a running task shows it
    assert "DestinationArn" not in done
    assert dlq_count(sqs, dlq) == 0
    back = sqs.receive_message(
        QueueUrl=source,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )["Messages"]
    assert sorted(m["Body"] for m in back) == [f"m{i}" for i in range(5)]
    for message in back:
        # attributes kept, the receive count starts again
        assert message["MessageAttributes"]["n"]["DataType"] == "Number"
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_a_destination_a_rate_and_a_cancel(sqs: SQSClient) -> None:
    _, dlq, dlq_arn = dead_letter_pair(sqs, 20)
    target = sqs.create_queue(QueueName=f"target-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    target_arn = arn_of(sqs, target)
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=target_arn, MaxNumberOfMessagesPerSecond=2
    )["TaskHandle"]
    (running,) = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["DestinationArn"] == target_arn
    assert running["MaxNumberOfMessagesPerSecond"] == 2
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=dlq_arn)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert error.value.response["Error"]["Message"] == (
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time."
    )
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 20
    cancelled = wait_for(sqs, dlq_arn, "CANCELLED")
    # what moved stays moved; nothing is lost or doubled
    assert dlq_count(sqs, dlq) + dlq_count(sqs, target) == 20
    assert dlq_count(sqs, target) == cancelled["ApproximateNumberOfMessagesMoved"]
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle=handle)


def test_refusals_in_aws_words(sqs: SQSClient, queue_url: str) -> None:
    plain_arn = arn_of(sqs, queue_url)
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=plain_arn)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert error.value.response["Error"]["Message"] == (
        "Source queue must be configured as a Dead Letter Queue."
    )
    missing = plain_arn.rsplit(":", 1)[0] + ":no-such-queue"
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn=missing)
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.list_message_move_tasks(SourceArn=missing)
    _, _, dlq_arn = dead_letter_pair(sqs, 1)
    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501)
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=missing)
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle="bm90IGEgaGFuZGxl")
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] == []


def test_move_tasks_with_the_cli(server: EmsServer, tmp_path: Path) -> None:
    # the CLI's region (eu-west-1) is not boto3's here: the queues are made in the CLI's
    name = f"cli-dlq-{uuid.uuid4().hex[:8]}"
    aws(server, tmp_path, "create-queue", "--queue-name", name)
    dlq_arn = f"arn:aws:sqs:eu-west-1:000000000000:{name}"
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = aws(server, tmp_path, "create-queue", "--queue-name", f"{name}-src", "--attributes",
                 json.dumps({"RedrivePolicy": policy, "VisibilityTimeout": "0"}))["QueueUrl"]  # fmt: skip
    aws(server, tmp_path, "send-message", "--queue-url", source, "--message-body", "poison")
    aws(server, tmp_path, "receive-message", "--queue-url", source)
    aws(server, tmp_path, "receive-message", "--queue-url", source)
    assert "Source queue must be configured" in aws_fails(
        server,
        tmp_path,
        "start-message-move-task",
        "--source-arn",
        dlq_arn.replace(name, f"{name}-src"),
    )
    handle = aws(server, tmp_path, "start-message-move-task", "--source-arn", dlq_arn)["TaskHandle"]
    assert handle
    deadline = time.monotonic() + 30
    while True:
        (task,) = aws(server, tmp_path, "list-message-move-tasks", "--source-arn", dlq_arn)[
            "Results"
        ]
        if task["Status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 1)
    got = aws(server, tmp_path, "receive-message", "--queue-url", source)
    assert [m["Body"] for m in got["Messages"]] == ["poison"]
    assert "ResourceNotFoundException" in aws_fails(
        server, tmp_path, "cancel-message-move-task", "--task-handle", handle
    )
