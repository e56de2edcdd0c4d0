"""Ids are capabilities: nothing hands one capability's holder another's id.

Whoever holds a topic id used to read, in the subscription listing, the full queue_id of every
subscribed queue and of webhook dead-letter queues (and could then peek, purge, rotate or delete
them); a refused webhook URL said which address its host resolved to; the confirm_url was built
from whatever Host header the subscriber sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import EmsServer, running
from tests.webhooks import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmsServer]:
    """A server that may push to loopback, where the test's webhook receiver listens."""
    with running(tmp_path_factory.mktemp("open") / "data", "--webhook-allow-private") as server:
        yield server


def new_queue(http: httpx.Client) -> dict[str, str]:
    created = http.post("/ems/queue")
    assert created.status_code == 201
    queue: dict[str, str] = created.json()
    return queue


def test_a_topic_listing_shows_no_id_of_any_queue(
    open_server: EmsServer, receiver: Receiver
) -> None:
    with httpx.Client(base_url=open_server.url) as http:
        topic = http.post("/ems/topic").json()["topic_id"]
        by_full_id, by_send_id, dead_letters = new_queue(http), new_queue(http), new_queue(http)
        base = f"/ems/topic/{topic}/subscription"
        first = http.post(base, params={"queue_id": by_full_id["queue_id"]})
        second = http.post(base, params={"queue_id": by_send_id["send_id"]})
        webhook = http.post(
            base,
            params={"url": receiver.url + "/hook"},
            json={"dead_letter_queue_id": dead_letters["send_id"]},
        )
        refused = http.post(base, params={"queue_id": by_send_id["receive_id"]})
        assert (first.status_code, second.status_code, webhook.status_code) == (201, 201, 201)
        assert refused.status_code == 403, "a receive_id may not be subscribed"
        answers = [first, second, webhook, refused, http.get(base)]
        for created in (first, second, webhook):
            answers.append(http.get(f"{base}/{created.json()['subscription_id']}"))
        secrets = [
            value
            for queue in (by_full_id, by_send_id, dead_letters)
            for value in (queue["queue_id"], queue["send_id"], queue["receive_id"])
        ]
        for answer in answers:
            leaked = [secret for secret in secrets if secret in answer.text]
            assert not leaked, f"{answer.request.method} {answer.request.url.path} shows an id"
        # what the listing shows instead: each queue's reference, which its owner can match
        listed = {s["endpoint"]: s for s in http.get(base).json()["subscriptions"]}
        for queue in (by_full_id, by_send_id):
            ref = http.get(f"/ems/queue/{queue['queue_id']}").json()["queue_ref"]
            assert listed[ref]["protocol"] == "queue"
        dlq_ref = http.get(f"/ems/queue/{dead_letters['queue_id']}").json()["queue_ref"]
        assert listed[receiver.url + "/hook"]["dead_letter_queue"] == dlq_ref
        # the reference grants nothing
        assert http.get(f"/ems/queue/{dlq_ref}").status_code == 404
        # a topic subscribed by send_id delivers like one subscribed by queue_id
        assert http.post(f"/ems/topic/{topic}/message", content=b"hi").json()["queues"] == 2
        for queue in (by_full_id, by_send_id):
            got = http.get(f"/ems/queue/{queue['receive_id']}/message").json()["messages"]
            assert [m["body"] for m in got] == ["hi"]


def test_the_confirm_url_is_not_built_from_the_host_header(
    open_server: EmsServer, receiver: Receiver
) -> None:
    kind = "SubscriptionConfirmation"
    earlier = len([r for r in receiver.requests if r.kind == kind])
    with httpx.Client(base_url=open_server.url) as http:
        topic = http.post("/ems/topic").json()["topic_id"]
        subscribed = http.post(
            f"/ems/topic/{topic}/subscription",
            params={"url": receiver.url + "/confirm-me"},
            headers={"Host": "evil.example:8080"},
        )
        assert subscribed.status_code == 201
    subscription_id = subscribed.json()["subscription_id"]
    requests = receiver.wait_for(earlier + 1, kind=kind)
    (confirmation,) = [r for r in requests if r.json()["subscription_id"] == subscription_id]
    link = confirmation.json()["confirm_url"]
    assert "evil.example" not in link
    # without --public-url: the address the request arrived on
    assert link.startswith(f"http://127.0.0.1:{open_server.port}/ems/topic/confirm/")


def test_a_forbidden_webhook_url_does_not_say_where_its_host_leads(server: EmsServer) -> None:
    """An internal DNS oracle otherwise: subscribe db.internal, read back its address."""
    with httpx.Client(base_url=server.url) as http:
        topic = http.post("/ems/topic").json()["topic_id"]
        for url in ("http://localhost:9/x", "http://127.0.0.1/x", "http://[::1]/x"):
            answer = http.post(f"/ems/topic/{topic}/subscription", params={"url": url})
            assert answer.status_code == 400
            problem = answer.json()
            assert problem["type"] == "/ems/problems/forbidden-webhook-url"
            assert not re.search(r"127\.0\.0\.1|::1", problem["detail"]), problem["detail"]


def test_problem_details_never_echo_an_id_or_a_receipt_handle(server: EmsServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        queue, other = new_queue(http), new_queue(http)
        topic = http.post("/ems/topic").json()["topic_id"]
        http.post(f"/ems/queue/{queue['send_id']}/message", content=b"x")
        http.post(f"/ems/queue/{other['send_id']}/message", content=b"x")
        handle = http.get(
            f"/ems/queue/{queue['receive_id']}/message", params={"visibility_timeout": 0}
        ).json()["messages"][0]["receipt_handle"]
        fresh = http.get(f"/ems/queue/{queue['receive_id']}/message").json()["messages"][0]
        other_handle = http.get(f"/ems/queue/{other['receive_id']}/message").json()["messages"]
        q, s, r = queue["queue_id"], queue["send_id"], queue["receive_id"]
        secrets = [
            q,
            s,
            r,
            topic,
            handle,
            fresh["receipt_handle"],
            other_handle[0]["receipt_handle"],
        ]
        failing = [
            http.get(f"/ems/queue/{s}/message"),  # a send_id may not receive
            http.get(f"/ems/queue/{r}"),  # nor a receive_id describe
            http.delete(f"/ems/queue/{q}/message/{handle}"),  # stale
            http.delete(f"/ems/queue/{q}/message/{other_handle[0]['receipt_handle']}"),
            http.delete(f"/ems/queue/{q}/message/{handle[:-2]}xx"),  # forged
            http.patch(f"/ems/queue/{q}/message/{handle}", params={"visibility_timeout": handle}),
            http.get(f"/ems/queue/{q}/message", params={handle: "1"}),
            http.get(f"/ems/queue/{q}/message", params={"correlation_id": handle + "\x01"}),
            http.get(f"/ems/queue/{q}/peek", params={"after": handle}),
            http.get(f"/ems/queue/{q}/message", params={"wait_seconds": q}),
            http.get(f"/ems/queue/{q}/{handle}"),
            http.post("/ems/queue", json={q: 1}),
            http.patch(f"/ems/queue/{q}", json={"dead_letter": {"queue_id": s, "max_receives": q}}),
            http.post(f"/ems/queue/{s}/messages", json={"messages": [{"body": "x", r: 1}]}),
            http.post(
                f"/ems/queue/{s}/messages",
                json={"messages": [{"body": "x", "attributes": {q + "!": "v"}}]},
            ),
            http.post(f"/ems/topic/{topic}/subscription", params={"queue_id": r}),
            http.post(f"/ems/topic/{topic}/subscription", params={"queue_id": s}, json={q: 1}),
            http.post(
                f"/ems/topic/{topic}/subscription",
                params={"url": f"ftp://example.com/{q}"},
            ),
            http.post(
                f"/ems/topic/{topic}/subscription",
                params={"url": "https://e.x/"},
                json={"envelope": handle},
            ),
            http.get(f"/ems/problems/{q}"),
        ]
        for answer in failing:
            assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
            leaked = [secret for secret in secrets if secret in answer.text]
            assert not leaked, f"{answer.request.url.path}: {answer.text}"
