"""The AWS CLI (pip's awscli), unchanged, against a real ``ems serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.server import EmsServer


def aws(server: EmsServer, tmp_path: Path, *args: str) -> Any:
    done = run_aws(server, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def aws_fails(server: EmsServer, tmp_path: Path, *args: str) -> str:
    """The CLI's error text for a command that must fail."""
    done = run_aws(server, tmp_path, *args)
    assert done.returncode != 0, done.stdout
    return done.stderr


def run_aws(server: EmsServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "aws-cli-config"
    config.write_text("[default]\nregion = eu-west-1\noutput = json\n")
    env = {
        **os.environ,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": "dummy",
        "AWS_SECRET_ACCESS_KEY": "dummy",
    }
    command = [str(Path(sys.executable).with_name("aws")), "sqs", *args,
               "--endpoint-url", server.url]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_create_send_receive_delete_with_the_cli(server: EmsServer, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    url = aws(server, tmp_path, "create-queue", "--queue-name", name)["QueueUrl"]
    assert url == f"{server.url}/000000000000/{name}"
    sent = aws(server, tmp_path, "send-message", "--queue-url", url, "--message-body", "hi cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')  # fmt: skip
    got = aws(server, tmp_path, "receive-message", "--queue-url", url,
              "--message-attribute-names", "All", "--wait-time-seconds", "1")  # fmt: skip
    (message,) = got["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "hi cli"
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    aws(server, tmp_path, "delete-message", "--queue-url", url,
        "--receipt-handle", message["ReceiptHandle"])  # fmt: skip
    assert url in aws(server, tmp_path, "list-queues")["QueueUrls"]
    aws(server, tmp_path, "delete-queue", "--queue-url", url)


def test_sqs_as_aws_answers_it_with_the_cli(server: EmsServer, tmp_path: Path) -> None:
    """Issue 20's divergences through the AWS CLI (the boto3 tests: test_sqs_as_aws.py)."""
    name = f"cli-aws-{uuid.uuid4().hex[:8]}"
    url = aws(server, tmp_path, "create-queue", "--queue-name", name)["QueueUrl"]
    size = aws(server, tmp_path, "get-queue-attributes", "--queue-url", url,
               "--attribute-names", "MaximumMessageSize")["Attributes"]  # fmt: skip
    assert size == {"MaximumMessageSize": "1048576"}
    # a bare name as the queue URL; a 300 KB body (from a file: too long for a command line);
    # system attributes on send
    body = tmp_path / "body.txt"
    body.write_text("x" * 300_000)
    aws(server, tmp_path, "send-message", "--queue-url", name, "--message-body", f"file://{body}",
        "--message-system-attributes",
        '{"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-a-b"}}')  # fmt: skip
    got = aws(server, tmp_path, "receive-message", "--queue-url", url, "--visibility-timeout",
              "0", "--message-system-attribute-names", "SenderId", "AWSTraceHeader")  # fmt: skip
    (message,) = got["Messages"]
    assert message["Attributes"] == {"SenderId": "dummy", "AWSTraceHeader": "Root=1-a-b"}
    again = aws(server, tmp_path, "receive-message", "--queue-url", url)["Messages"][0]
    # the first handle is superseded: deleting with it succeeds and leaves the message
    aws(server, tmp_path, "delete-message", "--queue-url", url,
        "--receipt-handle", message["ReceiptHandle"])  # fmt: skip
    aws(server, tmp_path, "delete-message", "--queue-url", url,
        "--receipt-handle", again["ReceiptHandle"])  # fmt: skip
    assert "NonExistentQueue" in aws_fails(
        server, tmp_path, "get-queue-attributes", "--queue-url", "http://x/1/2"
    )
    # regions: the CLI's region here is eu-west-1
    assert "NonExistentQueue" in aws_fails(
        server, tmp_path, "get-queue-url", "--queue-name", name, "--region", "us-west-2"
    )
    assert "MissingParameter" in aws_fails(
        server, tmp_path, "untag-queue", "--queue-url", url, "--tag-keys", "[]"
    )
    assert "Id a repeated." in aws_fails(
        server, tmp_path, "send-message-batch", "--queue-url", url, "--entries",
        '[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]',
    )  # fmt: skip
    aws(server, tmp_path, "purge-queue", "--queue-url", url)
    assert "PurgeQueueInProgress" in aws_fails(server, tmp_path, "purge-queue", "--queue-url", url)
    aws(server, tmp_path, "set-queue-attributes", "--queue-url", url, "--attributes",
        json.dumps({"Policy": json.dumps({"Statement": []})}))  # fmt: skip
    policy = aws(server, tmp_path, "get-queue-attributes", "--queue-url", url,
                 "--attribute-names", "Policy")["Attributes"]["Policy"]  # fmt: skip
    assert json.loads(policy) == {"Statement": []}
    assert "UnsupportedOperation" in aws_fails(
        server, tmp_path, "add-permission", "--queue-url", url, "--label", "l",
        "--aws-account-ids", "111111111111", "--actions", "SendMessage",
    )  # fmt: skip
    # prefix wildcards: "Custom.*" selects every attribute whose name starts with "Custom"
    aws(server, tmp_path, "send-message", "--queue-url", url, "--message-body", "attrs",
        "--message-attributes", json.dumps({
            name: {"DataType": "String", "StringValue": "v"}
            for name in ("Custom", "Custom.a", "CustomerId", "Other")
        }))  # fmt: skip
    got = aws(server, tmp_path, "receive-message", "--queue-url", url,
              "--message-attribute-names", "Custom.*")  # fmt: skip
    assert sorted(got["Messages"][0]["MessageAttributes"]) == ["Custom", "Custom.a", "CustomerId"]
