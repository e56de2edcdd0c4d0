"""SigV4: configured credentials are checked; development mode is loopback only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mypy_boto3_sqs import SQSClient

from ems.config import Settings, SettingsError
from ems.sqs.accounts import Accounts, account_of
from tests.api.conftest import serving
from tests.e2e.server import EmsServer
from tests.sqs.conftest import client_for

SECRET = "s3cr3t-for-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    server = EmsServer(
        tmp_path_factory.mktemp("sigv4") / "data",
        env={"EMS_SQS_CREDENTIALS": f"AKIDALICE:{SECRET}, AKIDBOB:other-secret"},
    ).start()
    yield server
    server.stop()
    assert SECRET not in server.output()


def test_the_right_secret_works_and_accounts_are_separate(guarded: EmsServer) -> None:
    alice = client_for(guarded.url, "AKIDALICE", SECRET)
    url = alice.create_queue(QueueName="private")["QueueUrl"]
    assert url == f"{guarded.url}/{account_of('AKIDALICE')}/private"
    alice.send_message(QueueUrl=url, MessageBody="signed")
    assert alice.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "signed"
    bob: SQSClient = client_for(guarded.url, "AKIDBOB", "other-secret")
    assert bob.list_queues().get("QueueUrls", []) == []
    # another account's queue URL is just not there
    with pytest.raises(bob.exceptions.QueueDoesNotExist):
        bob.send_message(QueueUrl=url, MessageBody="x")


def test_a_wrong_secret_or_unknown_key_is_rejected(guarded: EmsServer) -> None:
    wrong = client_for(guarded.url, "AKIDALICE", "not-the-secret")
    with pytest.raises(wrong.exceptions.ClientError) as error:
        wrong.list_queues()
    assert error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    stranger = client_for(guarded.url, "AKIDMALLORY", SECRET)
    with pytest.raises(stranger.exceptions.ClientError) as error:
        stranger.list_queues()
    assert error.value.response["Error"]["Code"] == "InvalidClientTokenId"
    unsigned = httpx.post(f"{guarded.url}/", data={"Action": "ListQueues"})
    assert unsigned.status_code == 403
    assert b"MissingAuthenticationToken" in unsigned.content


def test_a_signed_query_request_to_a_queue_url(guarded: EmsServer) -> None:
    alice = client_for(guarded.url, "AKIDALICE", SECRET)
    url = alice.create_queue(QueueName="forms")["QueueUrl"]
    request = AWSRequest(method="POST", url=url, data={"Action": "SendMessage", "MessageBody": "q"})
    SigV4Auth(Credentials("AKIDALICE", SECRET), "sqs", "us-east-1").add_auth(request)
    prepared = request.prepare()
    assert isinstance(prepared.body, str | bytes)
    response = httpx.post(url, content=prepared.body, headers=dict(prepared.headers.items()))
    assert response.status_code == 200, response.text
    assert alice.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "q"


def test_development_mode_needs_loopback_and_no_keys() -> None:
    assert Accounts.configure(None, "127.0.0.1", api_keys=False) is not None
    assert Accounts.configure(None, "::1", api_keys=False) is not None
    assert Accounts.configure(None, "0.0.0.0", api_keys=False) is None
    assert Accounts.configure(None, "127.0.0.1", api_keys=True) is None
    # a local proxy may expose a loopback bind: no development mode behind one
    assert Accounts.configure(None, "127.0.0.1", api_keys=False, behind_proxy=True) is None
    behind = Accounts.configure("K:S", "127.0.0.1", api_keys=False, behind_proxy=True)
    assert behind is not None
    assert not behind.open
    configured = Accounts.configure("K:S", "0.0.0.0", api_keys=True)
    assert configured is not None
    assert not configured.open
    with pytest.raises(SettingsError) as error:
        Settings().with_values({"sqs_credentials": "KEY_ONLY,K2:hidden"})
    assert "hidden" not in str(error.value)
    assert "hidden" not in repr(Settings().with_values({"sqs_credentials": "K:hidden"}))


async def test_without_credentials_on_a_public_bind_the_sqs_api_is_off(tmp_path: Path) -> None:
    settings = Settings(host="0.0.0.0")
    async with serving(tmp_path, settings) as (_, http):
        response = await http.post("/", data={"Action": "ListQueues"})
        # "/" is then only the playground page
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"
        assert response.headers["content-type"] == "application/problem+json"
        assert (await http.get("/healthz")).status_code == 200


def _signed(
    payload: dict[str, object], *, service: str = "sqs", extra: dict[str, str] | None = None
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/x-amz-json-1.0",
               "x-amz-target": "AmazonSQS.SendMessage", **(extra or {})}  # fmt: skip
    request = AWSRequest("POST", "http://ems.test/", data=body, headers=headers)
    SigV4Auth(Credentials("AK", SECRET), service, "us-east-1").add_auth(request)
    return dict(request.headers.items()), body


async def test_the_signature_covers_the_body_whatever_x_amz_content_sha256_says(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, Settings(sqs_credentials=f"AK:{SECRET}")) as (_, http):
        headers, body = _signed({"QueueName": "a"}, extra={"x-amz-target": "AmazonSQS.CreateQueue"})
        created = await http.post("/", content=body, headers=headers)
        assert created.status_code == 200, created.text
        url = created.json()["QueueUrl"]
        benign = {"QueueUrl": url, "MessageBody": "benign"}
        evil = json.dumps({"QueueUrl": url, "MessageBody": "EVIL"}).encode()
        # the hash header signed along, then the body swapped
        claimed = hashlib.sha256(json.dumps(benign).encode()).hexdigest()
        headers, _ = _signed(benign, extra={"x-amz-content-sha256": claimed})
        swapped = await http.post("/", content=evil, headers=headers)
        assert swapped.status_code == 403
        assert swapped.json()["__type"] == "com.amazonaws.sqs#SignatureDoesNotMatch"
        # the hash header added after signing, matching the original body
        headers, body = _signed(benign)
        headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        assert (await http.post("/", content=evil, headers=headers)).status_code == 403
        # UNSIGNED-PAYLOAD is refused, even signed
        headers, body = _signed(benign, extra={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        unsigned = await http.post("/", content=body, headers=headers)
        assert unsigned.status_code == 403
        assert "UNSIGNED-PAYLOAD" in unsigned.json()["message"]
        # a header with the right hash, signed, is fine
        claimed = hashlib.sha256(json.dumps(benign).encode()).hexdigest()
        headers, body = _signed(benign, extra={"x-amz-content-sha256": claimed})
        assert (await http.post("/", content=body, headers=headers)).status_code == 200
        # a signature for another service is not one for SQS
        headers, body = _signed(benign, service="s3")
        other = await http.post("/", content=body, headers=headers)
        assert other.status_code == 403
        assert "'sqs'" in other.json()["message"]
        # only the properly signed message was sent
        headers, body = _signed({"QueueUrl": url, "MaxNumberOfMessages": 10},
                                extra={"x-amz-target": "AmazonSQS.ReceiveMessage"})  # fmt: skip
        got = (await http.post("/", content=body, headers=headers)).json()["Messages"]
        assert [m["Body"] for m in got] == ["benign"]


async def test_development_mode_refuses_requests_relayed_by_a_proxy(tmp_path: Path) -> None:
    async with serving(tmp_path, Settings()) as (_, http):
        for name in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            relayed = await http.post("/", data={"Action": "ListQueues"}, headers={name: "1.2.3.4"})
            assert relayed.status_code == 403
            assert b"<Code>AccessDenied</Code>" in relayed.content
            assert relayed.headers["x-amzn-requestid"]
        assert (await http.post("/", data={"Action": "ListQueues"})).status_code == 200


async def test_behind_a_proxy_without_credentials_the_sqs_api_is_off(tmp_path: Path) -> None:
    settings = Settings(forwarded_allow_ips=("127.0.0.1",))
    async with serving(tmp_path, settings) as (_, http):
        response = await http.post("/", data={"Action": "ListQueues"})
        assert response.status_code == 405
        assert response.headers["content-type"] == "application/problem+json"
