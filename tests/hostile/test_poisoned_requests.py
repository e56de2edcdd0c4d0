"""One client's bad request never fails another's, and text that cannot be stored is a 400.

A batch whose correlation_id held a lone surrogate (``"\\ud800"``) used to make 194 of 200
unrelated concurrent sends fail with 503 on SQLite: it shared their group commit, and the whole
transaction failed with it. Now such text is refused before it reaches a store (and the stores
isolate a failing write anyway: tests/conformance/test_identities.py).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.e2e.server import EmsServer

pytestmark = [pytest.mark.e2e, pytest.mark.timing]
JSON = {"Content-Type": "application/json"}
# JSON text with escapes Python would not let a str literal carry: \ud800 has no pair
LONE = "\\ud800"


async def test_a_poisoned_batch_beside_200_sends_fails_alone(any_server: EmsServer) -> None:
    limits = httpx.Limits(max_connections=250)
    async with httpx.AsyncClient(base_url=any_server.url, limits=limits, timeout=60) as http:
        created = (await http.post("/ems/queue")).json()
        queue_id, send_id = created["queue_id"], created["send_id"]
        poison = f'{{"messages": [{{"body": "x", "correlation_id": "{LONE}"}}]}}'.encode()

        async def send(i: int) -> int:
            if i == 100:
                answer = await http.post(
                    f"/ems/queue/{send_id}/messages", content=poison, headers=JSON
                )
            else:
                answer = await http.post(f"/ems/queue/{send_id}/message", content=b"good %d" % i)
            return answer.status_code

        statuses = await asyncio.gather(*(send(i) for i in range(201)))
        assert statuses[100] == 400
        assert [s for i, s in enumerate(statuses) if i != 100] == [201] * 200, "no collateral"
        peeked = await http.get(f"/ems/queue/{queue_id}/peek", params={"max_messages": 1000})
        assert len(peeked.json()["messages"]) == 200


# every place a client's JSON text can end up stored or echoed, each with a lone surrogate
# (json.dumps writes it as the escape \ud800, as a client would send it)
S = "\ud800"
SURROGATE_REQUESTS: list[tuple[str, str, object]] = [
    ("POST", "/ems/queue/{send}/messages", {"messages": [{"body": S}]}),
    ("POST", "/ems/queue/{send}/messages", {"messages": [{"body": "x", "correlation_id": S}]}),
    ("POST", "/ems/queue/{send}/messages", {"messages": [{"body": "x", "attributes": {"k": S}}]}),
    ("POST", "/ems/queue/{send}/messages", {"messages": [{"body": "x", "attributes": {S: "v"}}]}),
    ("POST", "/ems/queue/{send}/messages", {"messages": [{"body": "x", S: 1}]}),
    ("POST", "/ems/queue/{receive}/messages/delete", {"receipt_handles": [S]}),
    ("POST", "/ems/queue/{receive}/messages/visibility",
     {"entries": [{"receipt_handle": S, "visibility_timeout": 1}]}),
    ("POST", "/ems/queue", {S: 1}),
    ("PATCH", "/ems/queue/{queue}", {S: 1}),
    ("PATCH", "/ems/queue/{queue}", {"dead_letter": {"queue_id": S, "max_receives": 3}}),
    ("POST", "/ems/topic", {S: 1}),
    ("POST", "/ems/topic/{topic}/subscription?queue_id={send}", {"filter_policy": {"k": [S]}}),
    ("POST", "/ems/topic/{topic}/subscription?queue_id={send}", {"filter_policy": {S: ["v"]}}),
    ("POST", "/ems/topic/{topic}/subscription?queue_id={send}", {S: 1}),
    ("POST", "/ems/topic/{topic}/subscription?url=https://example.com/x",
     {"dead_letter_queue_id": S}),
]  # fmt: skip


async def test_lone_surrogates_are_refused_everywhere_and_change_nothing(
    any_server: EmsServer,
) -> None:
    async with httpx.AsyncClient(base_url=any_server.url, timeout=30) as http:
        queue = (await http.post("/ems/queue")).json()
        topic = (await http.post("/ems/topic")).json()["topic_id"]
        names = {"{queue}": queue["queue_id"], "{send}": queue["send_id"],
                 "{receive}": queue["receive_id"], "{topic}": topic}  # fmt: skip
        for method, template, body in SURROGATE_REQUESTS:
            path = template
            for name, value in names.items():
                path = path.replace(name, value)
            escaped = json.dumps(body)
            # the escape, and a surrogate as raw (invalid UTF-8) bytes
            raw = escaped.replace("\\ud800", "\udc00").encode("utf-8", "surrogatepass")
            for data in (escaped.encode(), raw):
                answer = await http.request(method, path, content=data, headers=JSON)
                assert answer.status_code == 400, (method, template, data, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["type"] == "/ems/problems/invalid-request"
        peeked = await http.get(f"/ems/queue/{queue['queue_id']}/peek")
        assert peeked.json()["messages"] == [], "nothing was stored"
        listed = await http.get(f"/ems/topic/{topic}/subscription")
        assert listed.status_code == 200
        assert listed.json() == {"subscriptions": []}, "no subscription was stored"
        described = await http.get(f"/ems/queue/{queue['queue_id']}")
        assert described.json()["dead_letter"] is None


async def test_a_valid_surrogate_pair_is_text_and_is_kept(server: EmsServer) -> None:
    """The escapes of a character outside the BMP (as json.dumps writes an emoji) are fine."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        queue = (await http.post("/ems/queue")).json()
        body = '{"messages": [{"body": "\\ud83d\\ude00", "correlation_id": "\\ud83d\\ude00"}]}'
        sent = await http.post(f"/ems/queue/{queue['send_id']}/messages", content=body)
        assert sent.status_code == 201, sent.text
        (message,) = (await http.get(f"/ems/queue/{queue['queue_id']}/message")).json()["messages"]
        assert message["body"] == message["correlation_id"] == "\U0001f600"


# three thousand levels: past the depth Python's json recurses to
DEEP = ("[" * 3000 + "]" * 3000).encode()
DEEP_OBJECT = ('{"a":' * 3000 + "1" + "}" * 3000).encode()
JSON_ENDPOINTS = [
    ("POST", "/ems/queue"),
    ("PATCH", "/ems/queue/{queue}"),
    ("POST", "/ems/queue/{send}/messages"),
    ("POST", "/ems/queue/{receive}/messages/delete"),
    ("POST", "/ems/queue/{receive}/messages/visibility"),
    ("POST", "/ems/topic"),
    ("POST", "/ems/topic/{topic}/subscription?queue_id={send}"),
    ("POST", "/ems/topic/{topic}/subscription?url=https://example.com/x"),
]


async def test_deeply_nested_json_is_a_400_on_every_json_endpoint(server: EmsServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        queue = (await http.post("/ems/queue")).json()
        topic = (await http.post("/ems/topic")).json()["topic_id"]
        names = {"{queue}": queue["queue_id"], "{send}": queue["send_id"],
                 "{receive}": queue["receive_id"], "{topic}": topic}  # fmt: skip
        for method, template in JSON_ENDPOINTS:
            path = template
            for name, value in names.items():
                path = path.replace(name, value)
            for body in (DEEP, DEEP_OBJECT, b'{"messages": ' + DEEP + b"}"):
                answer = await http.request(method, path, content=body, headers=JSON)
                assert answer.status_code == 400, (method, template, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
        # the SQS API: a nested request, and a nested RedrivePolicy
        target = {"Content-Type": "application/x-amz-json-1.0"}
        answer = await http.post(
            "/", content=DEEP, headers={**target, "X-Amz-Target": "AmazonSQS.ListQueues"}
        )
        assert answer.status_code == 400, answer.text
        created = await http.post(
            "/",
            json={"QueueName": "nested", "Attributes": {"RedrivePolicy": DEEP.decode()}},
            headers={**target, "X-Amz-Target": "AmazonSQS.CreateQueue"},
        )
        assert created.status_code == 400, created.text
        assert created.json()["__type"].endswith("InvalidAttributeValue")
        assert (await http.get("/healthz")).status_code == 200
        assert "unhandled error" not in server.output()
