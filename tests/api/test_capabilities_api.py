"""Scoped capabilities over HTTP: what send_id and receive_id may do, and rotation."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import assert_problem


async def new_queue(client: httpx.AsyncClient, **attributes: Any) -> dict[str, Any]:
    response = await client.post("/ems/queue", json=attributes or None)
    assert response.status_code == 201
    document: dict[str, Any] = response.json()
    return document


async def test_each_id_does_what_its_scope_allows(client: httpx.AsyncClient) -> None:
    queue = await new_queue(client)
    full, send_id, receive_id = queue["queue_id"], queue["send_id"], queue["receive_id"]

    # the send id sends, one by one and in batches
    assert (await client.post(f"/ems/queue/{send_id}/message", content=b"a")).status_code == 201
    batch = await client.post(f"/ems/queue/{send_id}/messages", json={"messages": [{"body": "b"}]})
    assert batch.status_code == 201
    # the receive id receives, changes visibility and deletes
    got = (await client.get(f"/ems/queue/{receive_id}/message?max_messages=2")).json()["messages"]
    assert [m["body"] for m in got] == ["a", "b"]
    handle = got[0]["receipt_handle"]
    visibility = await client.patch(
        f"/ems/queue/{receive_id}/message/{handle}?visibility_timeout=5"
    )
    assert visibility.status_code == 204
    assert (await client.delete(f"/ems/queue/{receive_id}/message/{handle}")).status_code == 204
    # a handle received with one id works with the full id too: it names the message
    assert (
        await client.delete(f"/ems/queue/{full}/message/{got[1]['receipt_handle']}")
    ).status_code == 204

    refused_for_send = [
        await client.get(f"/ems/queue/{send_id}/message"),
        await client.get(f"/ems/queue/{send_id}"),
        await client.patch(f"/ems/queue/{send_id}", json={"delay_seconds": 1}),
        await client.delete(f"/ems/queue/{send_id}"),
        await client.post(f"/ems/queue/{send_id}/purge"),
        await client.get(f"/ems/queue/{send_id}/peek"),
        await client.post(f"/ems/queue/{send_id}/rotate"),
        await client.delete(f"/ems/queue/{send_id}/message/{handle}"),
    ]
    for response in refused_for_send:
        problem = assert_problem(response, 403, "wrong-capability")
        assert "send_id" in problem["detail"]
        assert "may only send messages" in problem["detail"]
    refused_for_receive = [
        await client.post(f"/ems/queue/{receive_id}/message", content=b"x"),
        await client.post(f"/ems/queue/{receive_id}/messages", json={"messages": [{"body": "x"}]}),
        await client.get(f"/ems/queue/{receive_id}"),
        await client.delete(f"/ems/queue/{receive_id}"),
        await client.get(f"/ems/queue/{receive_id}/peek"),
    ]
    for response in refused_for_receive:
        problem = assert_problem(response, 403, "wrong-capability")
        assert "receive_id" in problem["detail"]
    # the full id still does everything
    assert (await client.get(f"/ems/queue/{full}")).status_code == 200


async def test_rotation_issues_new_scoped_ids(client: httpx.AsyncClient) -> None:
    queue = await new_queue(client)
    rotated = await client.post(f"/ems/queue/{queue['queue_id']}/rotate")
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["queue_id"] == queue["queue_id"]
    assert {fresh["send_id"], fresh["receive_id"]}.isdisjoint(
        {queue["send_id"], queue["receive_id"]}
    )
    for old in (queue["send_id"], queue["receive_id"]):
        assert_problem(
            await client.post(f"/ems/queue/{old}/message", content=b"x"), 404, "queue-not-found"
        )
    assert (
        await client.post(f"/ems/queue/{fresh['send_id']}/message", content=b"x")
    ).status_code == 201
    got = await client.get(f"/ems/queue/{fresh['receive_id']}/message")
    assert [m["body"] for m in got.json()["messages"]] == ["x"]


async def test_send_ids_are_enough_to_route_messages_into_a_queue(
    client: httpx.AsyncClient,
) -> None:
    dlq, target = await new_queue(client), await new_queue(client)
    source = await client.post(
        "/ems/queue", json={"dead_letter": {"queue_id": dlq["send_id"], "max_receives": 1}}
    )
    assert source.status_code == 201
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    subscribed = await client.post(
        f"/ems/topic/{topic_id}/subscription?queue_id={target['send_id']}"
    )
    assert subscribed.status_code == 201
    refused = await client.post(
        f"/ems/topic/{topic_id}/subscription?queue_id={target['receive_id']}"
    )
    assert_problem(refused, 403, "wrong-capability")
    await client.post(f"/ems/topic/{topic_id}/message", content=b"routed")
    got = await client.get(f"/ems/queue/{target['receive_id']}/message")
    assert [m["body"] for m in got.json()["messages"]] == ["routed"]


async def test_a_full_queue_refuses_sends_with_429(client: httpx.AsyncClient) -> None:
    queue = await new_queue(client, max_stored_messages=2)
    url = f"/ems/queue/{queue['queue_id']}/message"
    for body in (b"1", b"2"):
        assert (await client.post(url, content=body)).status_code == 201
    problem = assert_problem(await client.post(url, content=b"3"), 429, "queue-full")
    assert "at most 2 messages" in problem["detail"]
    document = (await client.get(f"/ems/queue/{queue['queue_id']}")).json()
    assert (document["stored_messages"], document["max_stored_messages"]) == (2, 2)
    too_big = await client.post("/ems/queue", json={"max_stored_messages": 10**11})
    assert_problem(too_big, 400, "invalid-attribute")
