"""Whatever a client sends, EMS answers with a 2xx or a 4xx problem: never a 500.

Requests are drawn mostly from the real routes (so that parameters and bodies reach the code
that parses them), with field names from the API's vocabulary and values of every JSON type.
"""

from __future__ import annotations

import json
import re

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.asgi import dumps
from ems.core.errors import InvalidRequest
from ems.server import problems
from ems.sqs.handler import SqsApi
from tests.api.conftest import create_queue

SQS_ERRORS = ("text/xml", "application/x-amz-json-1.0")

ROUTES = [
    ("POST", "/ems/queue"),
    ("GET", "/ems/queue/{queue}"),
    ("PATCH", "/ems/queue/{queue}"),
    ("DELETE", "/ems/queue/{queue}"),
    ("POST", "/ems/queue/{queue}/message"),
    ("GET", "/ems/queue/{queue}/message"),
    ("POST", "/ems/queue/{queue}/messages"),
    ("POST", "/ems/queue/{queue}/messages/delete"),
    ("POST", "/ems/queue/{queue}/messages/visibility"),
    ("POST", "/ems/queue/{queue}/purge"),
    ("GET", "/ems/queue/{queue}/peek"),
    ("DELETE", "/ems/queue/{queue}/message/{handle}"),
    ("PATCH", "/ems/queue/{queue}/message/{handle}"),
    ("POST", "/ems/topic"),
    ("GET", "/ems/topic/{topic}"),
    ("DELETE", "/ems/topic/{topic}"),
    ("POST", "/ems/topic/{topic}/subscription"),
    ("GET", "/ems/topic/{topic}/subscription"),
    ("GET", "/ems/topic/{topic}/subscription/{subscription}"),
    ("DELETE", "/ems/topic/{topic}/subscription/{subscription}"),
    ("POST", "/ems/topic/{topic}/message"),
    ("GET", "/ems/topic/confirm/{handle}"),
    ("POST", "/ems/queue/{queue}/rotate"),
    ("GET", "/ems/crypto/random-key"),
    ("POST", "/ems/crypto/encryption"),
    ("POST", "/ems/crypto/decryption"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
    ("GET", "/ems/admin/queues"),
    ("GET", "/ems/problems/invalid-request"),
    ("GET", "/healthz"),
]
FIELDS = [
    "messages", "receipt_handles", "entries", "receipt_handle", "body", "body_encoding",
    "correlation_id", "delay_seconds", "attributes", "visibility_timeout", "retention_seconds",
    "max_message_bytes", "receive_wait_seconds", "dead_letter", "queue_id", "max_receives",
    "filter_policy", "envelope", "max_attempts", "min_retry_seconds", "max_retry_seconds",
    "timeout_seconds", "max_concurrency", "dead_letter_queue_id",
]  # fmt: skip
SEGMENTS = st.sampled_from(
    ["ems", "queue", "message", "messages", "delete", "visibility", "purge", "peek", "problems",
     "topic", "subscription", "confirm", "{queue}", "{handle}", "{topic}", "{subscription}", "",
     "..", "%00", "x" * 200, "AAAAAAAAAAAAAAAAAAAAAAAA"]
)  # fmt: skip
QUERY_NAMES = st.sampled_from(
    ["max_messages", "wait_seconds", "visibility_timeout", "correlation_id", "delay_seconds",
     "after", "x", "queue_id", "url"]
)  # fmt: skip
QUERY_VALUES = st.one_of(
    st.integers(-5, 50_000).map(str),
    # no host names and no public addresses: no example may wait on DNS or a dead network
    st.sampled_from(
        [
            "",
            "1e3",
            "abc",
            "0x10",
            " 5",
            "٣",
            "1" * 30,
            "{queue}",
            "http://127.0.0.1:9/x",
            "https://10.1.2.3/",
            "http://[::1]/",
            "ftp://192.0.2.1/",
            "http://203.0.113.9:1/",
            "http://",
        ]
    ),
    st.text(max_size=20),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "utf-8", "base64", "{handle}", "{queue}", "aGk=", "red"])
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=15,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
ATTRIBUTES = st.one_of(
    st.none(),
    st.tuples(
        st.text("abcXYZ-_.!", max_size=70),
        st.one_of(
            st.text(max_size=20).map(str.encode),
            st.binary(max_size=10).filter(lambda b: not set(b) & set(b"\r\n\x00")),
        ),
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str]:
    if draw(st.integers(0, 9)) < 8:
        method, path = draw(st.sampled_from(ROUTES))
        if draw(st.integers(0, 9)) == 0:
            method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]))
        return method, path
    method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]))
    return method, "/" + "/".join(draw(st.lists(SEGMENTS, min_size=1, max_size=6)))


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    request=requests(),
    query=st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), max_size=3),
    body=BODIES,
    attribute=ATTRIBUTES,
    crypto_key=st.one_of(
        st.none(),
        st.binary(max_size=60).filter(lambda b: not set(b) & set(b"\r\n\x00")),
        st.just(b"k" * 43 + b"="),
    ),
)
async def test_no_input_causes_a_server_error(
    client: httpx.AsyncClient,
    request: tuple[str, str],
    query: list[tuple[str, str]],
    body: bytes,
    attribute: tuple[str, bytes] | None,
    crypto_key: bytes | None,
) -> None:
    queue_id = await create_queue(client)
    topic_id = (await client.post("/ems/topic")).json()["topic_id"]
    subscription = await client.post(f"/ems/topic/{topic_id}/subscription?queue_id={queue_id}")
    subscription_id = subscription.json()["subscription_id"]
    await client.post(f"/ems/queue/{queue_id}/message", content=b"m")
    received = (await client.get(f"/ems/queue/{queue_id}/message?visibility_timeout=0")).json()
    handle = received["messages"][0]["receipt_handle"]
    method, template = request
    names = {"{queue}": queue_id, "{handle}": handle, "{topic}": topic_id,
             "{subscription}": subscription_id}  # fmt: skip
    path = template
    for name, value in names.items():
        path = path.replace(name, value)
        body = body.replace(name.encode(), value.encode())
        query = [(k, v.replace(name, value)) for k, v in query]
    headers = {}
    if attribute is not None:
        name, value = attribute
        headers[f"EMS-Attribute-{name}".encode()] = value.strip()
    if crypto_key is not None:
        headers[b"Crypto-Key"] = crypto_key.strip()
    try:
        response = await client.request(
            method,
            "http://ems.test" + path,
            params=tuple(query),  # a tuple: covariant, as httpx types it
            content=body,
            headers=headers,
        )
    except httpx.InvalidURL:
        return  # the client refused to send it
    assert response.status_code < 500, (method, path, query, body, response.text)
    if response.status_code >= 400 and method != "HEAD":
        sent = re.sub("/{2,}", "/", response.request.url.path)  # as the client normalized it
        if SqsApi.claims(method, sent.strip("/").split("/")):
            # the SQS API answers in its own wire format, which SQS clients parse (docs/sqs.md)
            assert response.headers["content-type"] in SQS_ERRORS
        else:
            assert response.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in response.text


def test_a_problem_that_echoes_text_which_cannot_be_utf8_still_renders() -> None:
    """A detail may quote what a client sent, and data stored before lone surrogates were
    refused may hold them: the answer escapes them instead of failing to encode (a 500)."""
    rendered = problems.render(InvalidRequest("got '\ud800'"))
    assert json.loads(rendered)["detail"] == "got '\ud800'"
    assert json.loads(dumps({"filter_policy": {"k": ["\udfff", "é"]}})) == {
        "filter_policy": {"k": ["\udfff", "é"]}
    }
