"""A real ``ems serve`` spoken to by real SQS clients (boto3, the AWS CLI, plain forms)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from mypy_boto3_sqs import SQSClient

from ems.config import Settings
from tests.api.conftest import serving
from tests.e2e.server import EmsServer

pytestmark = pytest.mark.e2e
Clients = Callable[..., SQSClient]
# the namespace of the Query protocol's XML answers
NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(autouse=True)
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the machine's AWS configuration may change what the tests send."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """One development-mode server (loopback, no credentials) for the module's tests."""
    server = EmsServer(tmp_path_factory.mktemp("sqs") / "data").start()
    yield server
    server.stop()


def client_for(
    url: str, key: str = "test", secret: str = "test", region: str = "us-east-1"
) -> SQSClient:
    return boto3.client(
        "sqs",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )


@pytest.fixture
def sqs(server: EmsServer) -> SQSClient:
    return client_for(server.url)


@pytest.fixture
def queue_url(sqs: SQSClient) -> str:
    return sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (development mode: loopback, no credentials), for wire-level tests."""
    async with serving(tmp_path, Settings()) as (_, client):
        yield client
