"""The SQS API on PostgreSQL: the names survive a restart, and two nodes share them."""

from __future__ import annotations

from pathlib import Path

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
