"""The queue API over HTTP: create, describe, update, delete, purge, and the error contract."""

from __future__ import annotations

import re

import httpx

from ems.core.clock import ManualClock
from tests.api.conftest import assert_problem, create_queue

DEFAULTS = {
    "visibility_timeout": 30,
    "retention_seconds": 345_600,
    "max_message_bytes": 262_144,
    "delay_seconds": 0,
    "receive_wait_seconds": 0,
    "deduplication_window_seconds": 300,
    "fifo": False,
    "max_stored_messages": 10_000_000,
    "max_stored_bytes": 1 << 30,
    "label": None,
    "dead_letter": None,
}


async def test_seed_quick_start(client: httpx.AsyncClient) -> None:
    """The seed's four curl steps, as curl sends them (no body, form-encoded -d)."""
    created = await client.post("/ems/queue")
    assert created.status_code == 201
    queue_id = created.json()["queue_id"]
    sent = await client.post(
        f"/ems/queue/{queue_id}/message",
        content=b"Hello World",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert sent.status_code == 201
    received = await client.get(f"/ems/queue/{queue_id}/message")
    assert received.status_code == 200
    (message,) = received.json()["messages"]
    assert message["body"] == "Hello World"
    assert message["message_id"] == sent.json()["message_id"]
    deleted = await client.delete(f"/ems/queue/{queue_id}/message/{message['receipt_handle']}")
    assert deleted.status_code == 204


async def test_create_returns_a_capability_id_and_the_defaults(client: httpx.AsyncClient) -> None:
    response = await client.post("/ems/queue")
    assert response.status_code == 201
    document = response.json()
    queue_id = document.pop("queue_id")
    send_id, receive_id = document.pop("send_id"), document.pop("receive_id")
    for capability in (queue_id, send_id, receive_id):
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", capability)  # 144 random bits
    assert len({queue_id, send_id, receive_id}) == 3
    # a name for the queue that grants nothing: what a topic's subscription listing shows
    queue_ref = document.pop("queue_ref")
    assert re.fullmatch(r"queue:[A-Za-z0-9_-]{12}", queue_ref)
    assert document == DEFAULTS
    assert response.headers["location"] == f"/ems/queue/{queue_id}"
    other = (await client.post("/ems/queue")).json()["queue_id"]
    assert other != queue_id


async def test_create_with_attributes(client: httpx.AsyncClient) -> None:
    attributes = {
        "visibility_timeout": 5,
        "retention_seconds": 60,
        "max_message_bytes": 1024,
        "delay_seconds": 900,
        "receive_wait_seconds": 20,
    }
    response = await client.post("/ems/queue", json=attributes)
    assert response.status_code == 201
    document = response.json()
    assert {k: document[k] for k in attributes} == attributes


async def test_create_refuses_bad_attributes_with_a_useful_problem(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ({"visibility_timeout": 43_201}, "visibility_timeout"),
        ({"visibility_timeout": -1}, "visibility_timeout"),
        ({"retention_seconds": 59}, "retention_seconds"),
        ({"retention_seconds": 14 * 24 * 3600 + 1}, "retention_seconds"),
        ({"max_message_bytes": 1_048_577}, "max_message_bytes"),
        ({"delay_seconds": 901}, "delay_seconds"),
        ({"receive_wait_seconds": 21}, "receive_wait_seconds"),
        ({"delay_seconds": "5"}, "delay_seconds"),
        ({"delay_seconds": True}, "delay_seconds"),
        ({"visibilty_timeout": 5}, "visibilty_timeout"),
    ]
    for body, parameter in cases:
        response = await client.post("/ems/queue", json=body)
        problem = assert_problem(response, 400, "invalid-attribute")
        assert problem["parameter"] == parameter
        assert parameter in problem["detail"]
    assert_problem(await client.post("/ems/queue", content=b"{nope"), 400, "invalid-request")
    assert_problem(await client.post("/ems/queue", json=[1]), 400, "invalid-attribute")
    # an optional body is left out, not sent as null (found by schemathesis)
    assert_problem(await client.post("/ems/queue", content=b"null"), 400, "invalid-request")
    assert_problem(await client.post("/ems/topic", content=b"null"), 400, "invalid-request")


async def test_describe_reports_attributes_and_counts(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    queue_id = await create_queue(client)
    for body in (b"a", b"b", b"c"):
        await client.post(f"/ems/queue/{queue_id}/message", content=body)
    await client.post(f"/ems/queue/{queue_id}/message?delay_seconds=60", content=b"later")
    await client.get(f"/ems/queue/{queue_id}/message")
    clock.advance(7)
    response = await client.get(f"/ems/queue/{queue_id}")
    assert response.status_code == 200
    document = response.json()
    assert document["queue_id"] == queue_id
    assert {k: document[k] for k in DEFAULTS} == DEFAULTS
    assert document["messages_visible"] == 2
    assert document["messages_in_flight"] == 1
    assert document["messages_delayed"] == 1
    assert document["oldest_message_age_seconds"] == 7


async def test_update_changes_attributes_and_answers_all_of_them(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await create_queue(client)
    response = await client.patch(f"/ems/queue/{queue_id}", json={"visibility_timeout": 90})
    assert response.status_code == 200
    answer = response.json()
    assert answer.pop("queue_ref").startswith("queue:")
    assert answer == {**DEFAULTS, "visibility_timeout": 90, "queue_id": queue_id}
    # a bad update changes nothing
    bad = await client.patch(
        f"/ems/queue/{queue_id}", json={"delay_seconds": 5, "visibility_timeout": 99_999}
    )
    assert_problem(bad, 400, "invalid-attribute")
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["delay_seconds"] == 0


async def test_dead_letter_attribute_round_trip(client: httpx.AsyncClient) -> None:
    dlq = await create_queue(client)
    queue_id = await create_queue(client, dead_letter={"queue_id": dlq, "max_receives": 3})
    document = (await client.get(f"/ems/queue/{queue_id}")).json()
    assert document["dead_letter"] == {"queue_id": dlq, "max_receives": 3}
    cleared = await client.patch(f"/ems/queue/{queue_id}", json={"dead_letter": None})
    assert cleared.json()["dead_letter"] is None
    missing = await client.patch(
        f"/ems/queue/{queue_id}",
        json={"dead_letter": {"queue_id": "A" * 24, "max_receives": 3}},
    )
    assert_problem(missing, 400, "dead-letter-queue-not-found")
    itself = await client.patch(
        f"/ems/queue/{queue_id}", json={"dead_letter": {"queue_id": queue_id, "max_receives": 3}}
    )
    assert_problem(itself, 400, "invalid-attribute")
    shape = await client.patch(f"/ems/queue/{queue_id}", json={"dead_letter": {"queue_id": dlq}})
    assert_problem(shape, 400, "invalid-attribute")


async def test_a_label_is_set_at_creation_changed_by_patch_and_removed_with_null(
    client: httpx.AsyncClient,
) -> None:
    queue_id = await create_queue(client, label="orders (EU)")
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["label"] == "orders (EU)"
    # a PATCH of something else keeps it
    kept = await client.patch(f"/ems/queue/{queue_id}", json={"delay_seconds": 1})
    assert kept.json()["label"] == "orders (EU)"
    renamed = await client.patch(f"/ems/queue/{queue_id}", json={"label": "orders"})
    assert renamed.json()["label"] == "orders"
    for bad in ("", "x" * 81, "two\nlines", 7):
        refused = await client.patch(f"/ems/queue/{queue_id}", json={"label": bad})
        assert_problem(refused, 400, "invalid-attribute")
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["label"] == "orders"
    removed = await client.patch(f"/ems/queue/{queue_id}", json={"label": None})
    assert removed.json()["label"] is None
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["label"] is None


async def test_messages_dead_letter_after_max_receives(client: httpx.AsyncClient) -> None:
    dlq = await create_queue(client)
    queue_id = await create_queue(client, dead_letter={"queue_id": dlq, "max_receives": 2})
    await client.post(f"/ems/queue/{queue_id}/message", content=b"poison")
    url = f"/ems/queue/{queue_id}/message?visibility_timeout=0"
    assert [m["receive_count"] for m in (await client.get(url)).json()["messages"]] == [1]
    assert [m["receive_count"] for m in (await client.get(url)).json()["messages"]] == [2]
    assert (await client.get(url)).json()["messages"] == []
    moved = (await client.get(f"/ems/queue/{dlq}/message")).json()["messages"]
    assert [m["body"] for m in moved] == ["poison"]


async def test_deleting_a_dead_letter_queue_detaches_its_sources(
    client: httpx.AsyncClient,
) -> None:
    dlq = await create_queue(client)
    queue_id = await create_queue(client, dead_letter={"queue_id": dlq, "max_receives": 2})
    assert (await client.delete(f"/ems/queue/{dlq}")).status_code == 204
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["dead_letter"] is None


async def test_delete_queue_then_everything_is_404(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    await client.post(f"/ems/queue/{queue_id}/message", content=b"x")
    assert (await client.delete(f"/ems/queue/{queue_id}")).status_code == 204
    base = f"/ems/queue/{queue_id}"
    for response in [
        await client.get(base),
        await client.patch(base, json={"delay_seconds": 1}),
        await client.delete(base),
        await client.post(f"{base}/message", content=b"x"),
        await client.get(f"{base}/message"),
        await client.post(f"{base}/messages", json={"messages": [{"body": "x"}]}),
        await client.post(f"{base}/purge"),
        await client.get(f"{base}/peek"),
    ]:
        assert_problem(response, 404, "queue-not-found")


async def test_unknown_and_malformed_queue_ids_are_404(client: httpx.AsyncClient) -> None:
    for queue_id in ["A" * 24, "short", "has.dot.in.it.xxxxxxxxxxx", "x" * 300]:
        assert_problem(await client.get(f"/ems/queue/{queue_id}"), 404, "queue-not-found")
        assert_problem(
            await client.post(f"/ems/queue/{queue_id}/message", content=b"x"),
            404,
            "queue-not-found",
        )


async def test_doubled_and_trailing_slashes_route_the_same(client: httpx.AsyncClient) -> None:
    # full URLs: httpx would read a bare "//ems/..." as a host name, as browsers do; curl and
    # most clients send the path as written
    created = await client.post("http://ems.test//ems/queue")
    assert created.status_code == 201
    queue_id = created.json()["queue_id"]
    sent = await client.post(f"http://ems.test//ems//queue/{queue_id}//message", content=b"x")
    assert sent.status_code == 201
    assert (await client.get(f"/ems/queue/{queue_id}/")).status_code == 200


async def test_purge_removes_messages_and_keeps_the_queue(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    for i in range(3):
        await client.post(f"/ems/queue/{queue_id}/message", content=f"{i}".encode())
    assert (await client.post(f"/ems/queue/{queue_id}/purge")).status_code == 204
    assert (await client.get(f"/ems/queue/{queue_id}/message")).json() == {"messages": []}
    assert (await client.get(f"/ems/queue/{queue_id}")).json()["messages_visible"] == 0


async def test_routing_errors_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nothing/here"), 404, "not-found")
    assert_problem(await client.get("/ems/nothing"), 404, "not-found")
    queue_id = await create_queue(client)
    assert_problem(await client.get(f"/ems/queue/{queue_id}/nothing"), 404, "not-found")
    put = await client.put(f"/ems/queue/{queue_id}", content=b"x")
    assert_problem(put, 405, "method-not-allowed")
    assert put.headers["allow"] == "GET, HEAD, PATCH, DELETE"
    assert_problem(await client.get("/ems/queue"), 405, "method-not-allowed")
    assert_problem(await client.get(f"/ems/queue/{queue_id}?verbose=1"), 400, "invalid-request")


async def test_problem_types_are_documented(client: httpx.AsyncClient) -> None:
    queue_id = await create_queue(client)
    problem = (await client.post(f"/ems/queue/{queue_id}/message?delay_seconds=x")).json()
    description = await client.get(problem["type"])
    assert description.status_code == 200
    assert description.json()["type"] == problem["type"]
    assert description.json()["status"] == 400
    assert_problem(await client.get("/ems/problems/no-such-problem"), 404, "not-found")


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
