"""The SNS API takes the SQS API's credentials: SigV4 for the ``sns`` service, one account per
access key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.server import EmsServer
from tests.sns.conftest import client_for


def keyed(url: str, key: str, secret: str) -> Any:
    return boto3.client(
        "sns", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def test_signed_requests_and_accounts(tmp_path: Path) -> None:
    server = EmsServer(
        tmp_path / "data", env={"EMS_SQS_CREDENTIALS": "AKIDA:secret-a,AKIDB:secret-b"}
    ).start()
    try:
        alice = keyed(server.url, "AKIDA", "secret-a")
        bob = keyed(server.url, "AKIDB", "secret-b")
        arn = alice.create_topic(Name="private")["TopicArn"]
        assert ":000000000000:" not in arn
        assert bob.list_topics()["Topics"] == []
        with pytest.raises(ClientError) as raised:
            bob.publish(TopicArn=arn, Message="x")
        assert raised.value.response["Error"]["Code"] == "NotFound"
        with pytest.raises(ClientError) as raised:
            keyed(server.url, "AKIDA", "wrong").list_topics()
        assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        with pytest.raises(ClientError) as raised:
            client_for(server.url).list_topics()  # an unknown key
        assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"
    finally:
        server.stop()
