"""The AWS CLI (pip's awscli), unchanged: ``aws sns ...`` against a real ``ems serve``."""

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
    command = [str(Path(sys.executable).with_name("aws")), *args, "--endpoint-url", server.url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_topic_to_queue_with_the_cli(server: EmsServer, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    topic = aws(server, tmp_path, "sns", "create-topic", "--name", name)["TopicArn"]
    assert topic == f"arn:aws:sns:eu-west-1:000000000000:{name}"
    url = aws(server, tmp_path, "sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    queue = aws(server, tmp_path, "sqs", "get-queue-attributes", "--queue-url", url,
                "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]  # fmt: skip
    subscription = aws(server, tmp_path, "sns", "subscribe", "--topic-arn", topic,
                       "--protocol", "sqs", "--notification-endpoint", queue)  # fmt: skip
    assert subscription["SubscriptionArn"].startswith(topic + ":")
    sent = aws(server, tmp_path, "sns", "publish", "--topic-arn", topic, "--message", "hi cli",
               "--subject", "greeting")  # fmt: skip
    got = aws(server, tmp_path, "sqs", "receive-message", "--queue-url", url,
              "--wait-time-seconds", "5")  # fmt: skip
    (message,) = got["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["MessageId"] == sent["MessageId"]
    assert (envelope["Message"], envelope["Subject"]) == ("hi cli", "greeting")
    listed = aws(server, tmp_path, "sns", "list-subscriptions-by-topic", "--topic-arn", topic)
    assert [s["Endpoint"] for s in listed["Subscriptions"]] == [queue]
    aws(server, tmp_path, "sns", "delete-topic", "--topic-arn", topic)
    topics = aws(server, tmp_path, "sns", "list-topics")["Topics"]
    assert topic not in [t["TopicArn"] for t in topics]
