"""A real ``ems serve`` spoken to by real SNS and SQS clients (boto3, the AWS CLI)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e.server import EmsServer
from tests.sqs.conftest import no_aws_config

pytestmark = pytest.mark.e2e
__all__ = ["no_aws_config"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """One development-mode server whose webhooks may reach loopback (the test endpoints)."""
    server = EmsServer(
        tmp_path_factory.mktemp("sns") / "data", env={"EMS_WEBHOOK_ALLOW_PRIVATE": "1"}
    ).start()
    yield server
    server.stop()


def client_for(url: str, service: str = "sns") -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )


@pytest.fixture
def sns(server: EmsServer) -> Any:
    return client_for(server.url)


@pytest.fixture
def sqs(server: EmsServer) -> Any:
    return client_for(server.url, "sqs")


@pytest.fixture
def topic_arn(sns: Any) -> str:
    arn: str = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    return arn


def new_queue(sqs: Any) -> tuple[str, str]:
    """A new SQS queue: (URL, ARN)."""
    url: str = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attributes["Attributes"]["QueueArn"]


def receive_all(sqs: Any, url: str, count: int, *, attributes: bool = False) -> list[Any]:
    """Receive (and delete) ``count`` messages, long-polling; fewer only after 10 s."""
    got: list[Any] = []
    for _ in range(10):
        if len(got) >= count:
            break
        extra = {"MessageAttributeNames": ["All"]} if attributes else {}
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **extra
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got
