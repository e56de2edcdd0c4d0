"""Sizes as SQS and EMS count them, and listings that span several pages of names."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from ems.sqs.registry import Registry

JSON = {"content-type": "application/x-amz-json-1.0"}


async def js(http: httpx.AsyncClient, action: str, payload: Any) -> httpx.Response:
    return await http.post("/", content=json.dumps(payload).encode(),
                           headers={**JSON, "x-amz-target": f"AmazonSQS.{action}"})  # fmt: skip


async def count(http: httpx.AsyncClient, url: str) -> int:
    got = await js(http, "GetQueueAttributes",
                   {"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]})  # fmt: skip
    return int(got.json()["Attributes"]["ApproximateNumberOfMessages"])


async def test_an_entry_too_large_as_stored_fails_alone(http: httpx.AsyncClient) -> None:
    created = await js(http, "CreateQueue",
                       {"QueueName": "q", "Attributes": {"MaximumMessageSize": "262144"}})  # fmt: skip
    url = created.json()["QueueUrl"]
    # 250 000 bytes as SQS counts them, but 300 000+ once the binary value is in base64
    binary = base64.b64encode(b"\0" * 150_000).decode()
    big = {"Id": "big", "MessageBody": "x" * 100_000,
           "MessageAttributes": {"bin": {"DataType": "Binary", "BinaryValue": binary}}}  # fmt: skip
    single = await js(http, "SendMessage", {"QueueUrl": url, "MessageBody": big["MessageBody"],
                                            "MessageAttributes": big["MessageAttributes"]})  # fmt: skip
    assert single.status_code == 400
    assert "base64" in single.json()["message"]
    batch = await js(http, "SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": "ok", "MessageBody": "fine"}, big]})  # fmt: skip
    assert batch.status_code == 200, batch.text
    assert [e["Id"] for e in batch.json()["Successful"]] == ["ok"]
    failed = batch.json()["Failed"]
    assert [(e["Id"], e["Code"]) for e in failed] == [("big", "InvalidParameterValue")]
    assert await count(http, url) == 1


async def test_the_batch_total_counts_attributes(http: httpx.AsyncClient) -> None:
    url = (await js(http, "CreateQueue", {"QueueName": "q"})).json()["QueueUrl"]
    value = "v" * 60_000
    attributes = {f"a{i}": {"DataType": "String", "StringValue": value} for i in range(10)}
    entries = [
        {"Id": str(i), "MessageBody": "x", "MessageAttributes": attributes} for i in range(2)
    ]
    refused = await js(http, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert refused.status_code == 400
    assert refused.json()["__type"] == "com.amazonaws.sqs#BatchRequestTooLong"
    assert await count(http, url) == 0
    sent = await js(http, "SendMessageBatch", {"QueueUrl": url, "Entries": entries[:1]})
    assert sent.status_code == 200
    assert await count(http, url) == 1


async def test_dead_letter_sources_are_found_past_the_first_page(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Registry, "page_size", 2)
    dlq = (await js(http, "CreateQueue", {"QueueName": "zdlq"})).json()["QueueUrl"]
    arn = "arn:aws:sqs:us-east-1:000000000000:zdlq"
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    for name in ("a1", "a2", "a3", "a4", "a5"):
        attributes = {"RedrivePolicy": redrive} if name != "a3" else {}
        created = await js(http, "CreateQueue", {"QueueName": name, "Attributes": attributes})
        assert created.status_code == 200, created.text
    listed = await js(http, "ListDeadLetterSourceQueues", {"QueueUrl": dlq})
    urls = listed.json()["queueUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == ["a1", "a2", "a4", "a5"]
    first = (
        await js(http, "ListDeadLetterSourceQueues", {"QueueUrl": dlq, "MaxResults": 3})
    ).json()
    assert [u.rsplit("/", 1)[1] for u in first["queueUrls"]] == ["a1", "a2", "a4"]
    rest = await js(http, "ListDeadLetterSourceQueues",
                    {"QueueUrl": dlq, "MaxResults": 3, "NextToken": first["NextToken"]})  # fmt: skip
    assert [u.rsplit("/", 1)[1] for u in rest.json()["queueUrls"]] == ["a5"]
    # the dead-letter queue's name is found on a later page too
    got = await js(http, "GetQueueAttributes", {"QueueUrl": urls[-1], "AttributeNames": ["All"]})
    assert json.loads(got.json()["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"] == arn
