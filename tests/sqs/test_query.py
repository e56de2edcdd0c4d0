"""The Query protocol: form requests, to ``/`` and to queue URLs, answered in SQS's XML shapes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from ems.sqs.checksums import md5_of_body
from tests.sqs.conftest import NS


async def call(
    http: httpx.AsyncClient, form: dict[str, str], path: str = "/", status: int = 200
) -> ET.Element:
    response = await http.post(path, data=form)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/xml"
    root = ET.fromstring(response.content)
    request_id = root.findtext(".//sqs:RequestId", namespaces=NS)
    assert request_id == response.headers["x-amzn-requestid"]
    return root


async def test_a_queue_through_its_life_in_the_query_protocol(http: httpx.AsyncClient) -> None:
    created = await call(http, {"Action": "CreateQueue", "QueueName": "forms",
                                "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "7",
                                "Tag.1.Key": "team", "Tag.1.Value": "a"})  # fmt: skip
    assert created.tag == f"{{{NS['sqs']}}}CreateQueueResponse"
    url = created.findtext("sqs:CreateQueueResult/sqs:QueueUrl", namespaces=NS)
    assert url == "http://ems.test/000000000000/forms"

    sent = await call(http, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "a<b>&c",
                             "MessageAttribute.1.Name": "n",
                             "MessageAttribute.1.Value.DataType": "Number",
                             "MessageAttribute.1.Value.StringValue": "3"})  # fmt: skip
    result = sent.find("sqs:SendMessageResult", NS)
    assert result is not None
    assert result.findtext("sqs:MD5OfMessageBody", namespaces=NS) == md5_of_body("a<b>&c")
    assert result.findtext("sqs:MessageId", namespaces=NS)

    # posted to the queue URL's path, without QueueUrl
    got = await call(http, {"Action": "ReceiveMessage", "AttributeName.1": "All",
                            "MessageAttributeName.1": "All"}, path="/000000000000/forms")  # fmt: skip
    message = got.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message is not None
    assert message.findtext("sqs:Body", namespaces=NS) == "a<b>&c"
    attributes = {
        a.findtext("sqs:Name", namespaces=NS): a.findtext("sqs:Value", namespaces=NS)
        for a in message.findall("sqs:Attribute", NS)
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    typed = message.find("sqs:MessageAttribute", NS)
    assert typed is not None
    assert typed.findtext("sqs:Name", namespaces=NS) == "n"
    assert typed.findtext("sqs:Value/sqs:DataType", namespaces=NS) == "Number"
    assert typed.findtext("sqs:Value/sqs:StringValue", namespaces=NS) == "3"
    handle = message.findtext("sqs:ReceiptHandle", namespaces=NS)
    assert handle

    deleted = await call(http, {"Action": "DeleteMessageBatch", "QueueUrl": url,
                                "DeleteMessageBatchRequestEntry.1.Id": "one",
                                "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle,
                                "DeleteMessageBatchRequestEntry.2.Id": "two",
                                "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "forged"})  # fmt: skip
    batch = deleted.find("sqs:DeleteMessageBatchResult", NS)
    assert batch is not None
    assert [e.findtext("sqs:Id", namespaces=NS) for e in
            batch.findall("sqs:DeleteMessageBatchResultEntry", NS)] == ["one"]  # fmt: skip
    error = batch.find("sqs:BatchResultErrorEntry", NS)
    assert error is not None
    assert error.findtext("sqs:Code", namespaces=NS) == "ReceiptHandleIsInvalid"
    assert error.findtext("sqs:SenderFault", namespaces=NS) == "true"

    shown = await call(http, {"Action": "GetQueueAttributes", "QueueUrl": url,
                              "AttributeName.1": "VisibilityTimeout"})  # fmt: skip
    pairs = shown.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)
    assert [(p.findtext("sqs:Name", namespaces=NS), p.findtext("sqs:Value", namespaces=NS))
            for p in pairs] == [("VisibilityTimeout", "7")]  # fmt: skip
    tags = await call(http, {"Action": "ListQueueTags", "QueueUrl": url})
    assert tags.findtext("sqs:ListQueueTagsResult/sqs:Tag/sqs:Key", namespaces=NS) == "team"
    listed = await call(http, {"Action": "ListQueues"})
    assert listed.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)[0].text == url
    await call(http, {"Action": "DeleteQueue", "QueueUrl": url})


async def test_query_errors_are_error_responses(http: httpx.AsyncClient) -> None:
    missing = await call(http, {"Action": "GetQueueUrl", "QueueName": "nothing"}, status=400)
    assert missing.tag == f"{{{NS['sqs']}}}ErrorResponse"
    assert missing.findtext("sqs:Error/sqs:Code", namespaces=NS) == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )
    assert missing.findtext("sqs:Error/sqs:Type", namespaces=NS) == "Sender"
    unknown = await call(http, {"Action": "Frobnicate"}, status=400)
    assert unknown.findtext("sqs:Error/sqs:Code", namespaces=NS) == "InvalidAction"
    no_action = await call(http, {"QueueName": "x"}, status=400)
    assert no_action.findtext("sqs:Error/sqs:Code", namespaces=NS) == "MissingAction"
    bad_list = await call(http, {"Action": "CreateQueue", "QueueName": "x",
                                 "Attribute.x.Name": "DelaySeconds"}, status=400)  # fmt: skip
    assert bad_list.findtext("sqs:Error/sqs:Code", namespaces=NS) == "InvalidParameterValue"


async def test_malformed_json_requests_are_sqs_errors(http: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/x-amz-json-1.0"}
    for target, body, code in [
        ("AmazonSQS.ListQueues", b"[1]", "SerializationException"),
        ("AmazonSQS.ListQueues", b"{not json", "SerializationException"),
        ("Other.Thing", b"{}", "UnknownOperationException"),
        ("AmazonSQS.ListQueues", b'{"MaxResults": "many"}', "InvalidParameterValue"),
        ("AmazonSQS.SendMessage", b'{"QueueUrl": 5}', "InvalidParameterValue"),
    ]:
        response = await http.post("/", content=body, headers={**headers, "x-amz-target": target})
        assert response.status_code == 400, (target, body, response.text)
        assert response.json()["__type"] == f"com.amazonaws.sqs#{code}"
        assert response.headers["x-amzn-query-error"] == f"{code};Sender"
        assert response.headers["x-amzn-requestid"]


async def test_move_tasks_in_the_query_protocol(http: httpx.AsyncClient) -> None:
    """Start/ListMessageMoveTasks as older SDKs send them, in the Query protocol's XML shapes."""
    await call(http, {"Action": "CreateQueue", "QueueName": "q-dlq"})
    arn = "arn:aws:sqs:us-east-1:000000000000:q-dlq"
    redrive = f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": 1}}'
    source = await call(http, {"Action": "CreateQueue", "QueueName": "q-src",
                               "Attribute.1.Name": "RedrivePolicy",
                               "Attribute.1.Value": redrive})  # fmt: skip
    src_url = source.findtext("sqs:CreateQueueResult/sqs:QueueUrl", namespaces=NS)
    assert src_url is not None
    await call(http, {"Action": "SendMessage", "QueueUrl": src_url, "MessageBody": "x"})
    for _ in range(2):
        await call(http, {"Action": "ReceiveMessage", "QueueUrl": src_url,
                          "VisibilityTimeout": "0"})  # fmt: skip
    started = await call(http, {"Action": "StartMessageMoveTask", "SourceArn": arn,
                                "MaxNumberOfMessagesPerSecond": "7"})  # fmt: skip
    assert started.findtext("sqs:StartMessageMoveTaskResult/sqs:TaskHandle", namespaces=NS)
    listed = await call(http, {"Action": "ListMessageMoveTasks", "SourceArn": arn,
                               "MaxResults": "10"})  # fmt: skip
    entries = listed.findall(
        "sqs:ListMessageMoveTasksResult/sqs:ListMessageMoveTasksResultEntry", NS
    )
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext("sqs:SourceArn", namespaces=NS) == arn
    assert entry.findtext("sqs:MaxNumberOfMessagesPerSecond", namespaces=NS) == "7"
    assert entry.findtext("sqs:ApproximateNumberOfMessagesToMove", namespaces=NS) == "1"
    assert entry.findtext("sqs:Status", namespaces=NS) in ("RUNNING", "COMPLETED")


async def test_percent_encoded_bytes_that_are_not_utf8_are_refused_and_store_nothing(
    http: httpx.AsyncClient,
) -> None:
    """``%FF`` or an encoded lone surrogate (``%ED%A0%80``) in a form was decoded to U+FFFD and
    stored; it is a malformed form, as a body that is not UTF-8 is."""
    created = await call(http, {"Action": "CreateQueue", "QueueName": "garbled"})
    url = created.findtext("sqs:CreateQueueResult/sqs:QueueUrl", namespaces=NS)
    assert url is not None
    for garbled in ("%FF", "%ED%A0%80", "ok%C3"):
        form = f"Action=SendMessage&QueueUrl={url}&MessageBody={garbled}".encode()
        response = await http.post(
            "/", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 400, response.text
        root = ET.fromstring(response.content)
        assert root.findtext("sqs:Error/sqs:Code", namespaces=NS) == "MalformedQueryString"
    got = await call(http, {"Action": "ReceiveMessage", "QueueUrl": url})
    assert got.find("sqs:ReceiveMessageResult/sqs:Message", NS) is None
