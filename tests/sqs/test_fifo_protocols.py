"""FIFO queues through the AWS CLI (unchanged) and the Query protocol's forms."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.e2e.server import EmsServer
from tests.sqs.conftest import NS
from tests.sqs.test_awscli import aws, aws_fails
from tests.sqs.test_query import call


def test_a_fifo_flow_with_the_cli(server: EmsServer, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}.fifo"
    url = aws(server, tmp_path, "create-queue", "--queue-name", name,
              "--attributes", "FifoQueue=true,ContentBasedDeduplication=true")["QueueUrl"]  # fmt: skip
    assert url == f"{server.url}/000000000000/{name}"
    for body in ("one", "two"):
        sent = aws(server, tmp_path, "send-message", "--queue-url", url, "--message-body", body,
                   "--message-group-id", "g")  # fmt: skip
        assert sent["SequenceNumber"]
    repeat = aws(server, tmp_path, "send-message", "--queue-url", url, "--message-body", "two",
                 "--message-group-id", "g")  # fmt: skip
    assert repeat["MessageId"] == sent["MessageId"]
    got = aws(server, tmp_path, "receive-message", "--queue-url", url,
              "--max-number-of-messages", "10", "--attribute-names", "All",
              "--receive-request-attempt-id", "cli-try")["Messages"]  # fmt: skip
    assert [m["Body"] for m in got] == ["one", "two"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    error = aws_fails(server, tmp_path, "send-message", "--queue-url", url, "--message-body", "x")
    assert "MissingParameter" in error
    assert "The request must contain the parameter MessageGroupId." in error
    error = aws_fails(server, tmp_path, "create-queue", "--queue-name", "plain",
                      "--attributes", "FifoQueue=true")  # fmt: skip
    assert "must end with .fifo suffix" in error


async def test_fifo_in_the_query_protocol(http: httpx.AsyncClient) -> None:
    created = await call(http, {"Action": "CreateQueue", "QueueName": "forms.fifo",
                                "Attribute.1.Name": "FifoQueue", "Attribute.1.Value": "true"})  # fmt: skip
    url = created.findtext("sqs:CreateQueueResult/sqs:QueueUrl", namespaces=NS)
    assert url == "http://ems.test/000000000000/forms.fifo"
    sent = await call(http, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "b",
                             "MessageGroupId": "g", "MessageDeduplicationId": "d"})  # fmt: skip
    sequence = sent.findtext("sqs:SendMessageResult/sqs:SequenceNumber", namespaces=NS)
    assert sequence
    assert sequence.isdigit()
    refused = await call(http, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "b",
                                "MessageGroupId": "g"}, status=400)  # fmt: skip
    assert refused.findtext("sqs:Error/sqs:Code", namespaces=NS) == "InvalidParameterValue"
    assert refused.findtext("sqs:Error/sqs:Message", namespaces=NS) == (
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )
    missing = await call(http, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "b"},
                         status=400)  # fmt: skip
    assert missing.findtext("sqs:Error/sqs:Code", namespaces=NS) == "MissingParameter"
    got = await call(http, {"Action": "ReceiveMessage", "QueueUrl": url,
                            "MessageSystemAttributeName.1": "All",
                            "ReceiveRequestAttemptId": "q1"})  # fmt: skip
    message = got.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message is not None
    attributes = {
        a.findtext("sqs:Name", namespaces=NS): a.findtext("sqs:Value", namespaces=NS)
        for a in message.findall("sqs:Attribute", NS)
    }
    assert attributes["MessageGroupId"] == "g"
    assert attributes["MessageDeduplicationId"] == "d"
    assert attributes["SequenceNumber"] == sequence
