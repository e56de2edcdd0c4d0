"""The SQS API on PostgreSQL: the names survive a restart, and two nodes share them."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests import pg
from tests.e2e.server import EmsServer
from tests.sqs.conftest import client_for


def test_the_core_flow_on_postgres_across_nodes(tmp_path: Path) -> None:
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        on_a, on_b = client_for(a.url), client_for(b.url)
        url_a = on_a.create_queue(QueueName="shared")["QueueUrl"]
        url_b = on_b.get_queue_url(QueueName="shared")["QueueUrl"]
        on_a.send_message_batch(
            QueueUrl=url_a,
            Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)],
        )
        got = on_b.receive_message(QueueUrl=url_b, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        bodies = sorted(m["Body"] for m in got["Messages"])
        on_b.delete_message_batch(
            QueueUrl=url_b,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(got["Messages"])
            ],
        )
        while len(bodies) < 3:
            more = on_a.receive_message(QueueUrl=url_a, MaxNumberOfMessages=10, WaitTimeSeconds=2)
            for m in more["Messages"]:
                bodies.append(m["Body"])
                on_a.delete_message(QueueUrl=url_a, ReceiptHandle=m["ReceiptHandle"])
        assert sorted(bodies) == ["m0", "m1", "m2"]
        on_b.tag_queue(QueueUrl=url_b, Tags={"db": "pg"})
        assert on_a.list_queue_tags(QueueUrl=url_a)["Tags"] == {"db": "pg"}
        on_a.delete_queue(QueueUrl=url_a)
        assert on_b.list_queues().get("QueueUrls", []) == []
    finally:
        a.stop()
        b.stop()


def test_a_name_deleted_and_made_again_on_another_node_reaches_the_new_queue(
    tmp_path: Path,
) -> None:
    """Each node remembers the queue a name stands for after its first message call; a queue
    deleted and made again under the same name through another node must not leave the first
    node sending to (or refusing for) the old one."""
    database = (pg.database_url(), pg.schema_for(tmp_path))
    a = EmsServer(tmp_path / "a", database=database).start()
    b = EmsServer(tmp_path / "b", database=database).start()
    try:
        on_a, on_b = client_for(a.url), client_for(b.url)
        url = on_a.create_queue(QueueName="reused")["QueueUrl"]
        on_a.send_message(QueueUrl=url, MessageBody="to the first queue")  # a remembers it
        on_b.delete_queue(QueueUrl=url)
        url_b = on_b.create_queue(QueueName="reused")["QueueUrl"]
        on_a.send_message(QueueUrl=url, MessageBody="to the second queue")
        got = on_b.receive_message(QueueUrl=url_b, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        assert [m["Body"] for m in got["Messages"]] == ["to the second queue"]
        # and a receive and a delete through a remembered name, after the same on the other node
        on_a.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        on_b.delete_queue(QueueUrl=url_b)
        on_b.create_queue(QueueName="reused")
        on_b.send_message(QueueUrl=url_b, MessageBody="third")
        got = on_a.receive_message(QueueUrl=url, WaitTimeSeconds=2)
        assert [m["Body"] for m in got["Messages"]] == ["third"]
        on_a.delete_message(QueueUrl=url, ReceiptHandle=got["Messages"][0]["ReceiptHandle"])
        on_b.delete_queue(QueueUrl=url_b)
        with pytest.raises(ClientError) as refused:
            on_a.send_message(QueueUrl=url, MessageBody="to no queue")
        assert "NonExistentQueue" in str(refused.value) or "QueueDoesNotExist" in str(refused.value)
    finally:
        a.stop()
        b.stop()
