"""FIFO queues through the SQS API on two PostgreSQL nodes: the database keeps the order, the
deduplication and the receive attempts, not any node's memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import pg
from tests.e2e.server import EmsServer
from tests.sqs.conftest import client_for

ALL: Any = ["All"]


def test_fifo_flows_across_two_nodes(tmp_path: Path) -> None:
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        on_a, on_b = client_for(a.url), client_for(b.url)
        attributes: Any = {"FifoQueue": "true", "DeduplicationScope": "messageGroup",
                           "FifoThroughputLimit": "perMessageGroupId"}  # fmt: skip
        url_a = on_a.create_queue(QueueName="orders.fifo", Attributes=attributes)["QueueUrl"]
        url_b = on_b.get_queue_url(QueueName="orders.fifo")["QueueUrl"]
        described = on_b.get_queue_attributes(QueueUrl=url_b, AttributeNames=ALL)["Attributes"]
        assert described["FifoThroughputLimit"] == "perMessageGroupId"
        sent = on_a.send_message_batch(
            QueueUrl=url_a,
            Entries=[
                {"Id": str(i), "MessageBody": f"a{i}", "MessageGroupId": "a",
                 "MessageDeduplicationId": f"d{i}"}
                for i in range(3)
            ],
        )  # fmt: skip
        # the same ids sent through the other node are duplicates there too
        repeat = on_b.send_message(
            QueueUrl=url_b, MessageBody="again", MessageGroupId="a", MessageDeduplicationId="d0"
        )
        assert repeat["MessageId"] == sent["Successful"][0]["MessageId"]
        assert repeat["SequenceNumber"] == sent["Successful"][0]["SequenceNumber"]
        # the same id in another group is another message (messageGroup scope)
        on_b.send_message(
            QueueUrl=url_b, MessageBody="b0", MessageGroupId="b", MessageDeduplicationId="d0"
        )

        first = on_a.receive_message(
            QueueUrl=url_a, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1",
            MessageSystemAttributeNames=ALL,
        )["Messages"]  # fmt: skip
        assert [m["Body"] for m in first] == ["a0", "a1"]
        # the retry reaches the other node: the same messages and receipt handles
        retried = on_b.receive_message(
            QueueUrl=url_b, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
        )["Messages"]
        assert [m["ReceiptHandle"] for m in retried] == [m["ReceiptHandle"] for m in first]
        # group a is in flight on node a: node b gets only group b
        other = on_b.receive_message(QueueUrl=url_b, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in other] == ["b0"]
        for message in retried:
            on_b.delete_message(QueueUrl=url_b, ReceiptHandle=message["ReceiptHandle"])
        last = on_a.receive_message(QueueUrl=url_a, MaxNumberOfMessages=10,
                                    MessageSystemAttributeNames=ALL)["Messages"]  # fmt: skip
        assert [m["Body"] for m in last] == ["a2"]
        assert last[0]["Attributes"]["SequenceNumber"] > first[1]["Attributes"]["SequenceNumber"]
        # a setting changed through one node holds on the other at once
        on_a.set_queue_attributes(QueueUrl=url_a, Attributes={"ContentBasedDeduplication": "true"})
        on_b.send_message(QueueUrl=url_b, MessageBody="by content", MessageGroupId="c")
    finally:
        a.stop()
        b.stop()
