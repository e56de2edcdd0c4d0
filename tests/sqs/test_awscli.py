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
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


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
