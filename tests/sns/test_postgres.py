"""SNS on PostgreSQL: two nodes share topics, deliver each notification once, and sign with the
same certificate."""

from __future__ import annotations

import time
from pathlib import Path

from tests import pg
from tests.e2e.server import EmsServer
from tests.sns.conftest import client_for
from tests.sns.endpoint import SnsEndpoint


def test_two_nodes_deliver_each_notification_once_with_one_certificate(tmp_path: Path) -> None:
    database = (pg.database_url(), pg.schema_for(tmp_path))
    env = {"EMS_WEBHOOK_ALLOW_PRIVATE": "1"}
    a = EmsServer(tmp_path / "a", database=database, env=env).start()
    b = EmsServer(tmp_path / "b", database=database, env=env).start()
    endpoint = SnsEndpoint()
    try:
        on_a, on_b = client_for(a.url), client_for(b.url)
        topic = on_a.create_topic(Name="shared")["TopicArn"]
        assert on_b.create_topic(Name="shared")["TopicArn"] == topic
        on_b.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        endpoint.wait_for(1, "SubscriptionConfirmation")
        ids = [
            (on_a if i % 2 else on_b).publish(TopicArn=topic, Message=f"m{i}")["MessageId"]
            for i in range(20)
        ]
        endpoint.wait_for(20)
        time.sleep(1)  # time for a duplicate to show up, if either node were to push one
        arrivals = endpoint.of_kind("Notification")
        seen = [arrival.json()["MessageId"] for arrival in arrivals]
        assert sorted(seen) == sorted(ids)  # each once (every one verified on arrival)
        # the nodes name themselves in the URL, and serve the one certificate
        assert (
            len({arrival.json()["SigningCertURL"].rsplit("/", 1)[1] for arrival in arrivals}) == 1
        )
        assert len(endpoint.certificates) == 1
        assert (
            on_a.list_subscriptions()["Subscriptions"] == on_b.list_subscriptions()["Subscriptions"]
        )
    finally:
        endpoint.close()
        a.stop()
        b.stop()
