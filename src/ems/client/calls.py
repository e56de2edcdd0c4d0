"""The API's calls without I/O: what to request, and how to read the answer.

:class:`~ems.client.Client` and :class:`~ems.client.AsyncClient` both build their requests here
and differ only in how they send them, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ems.client import errors
from ems.client.models import (
    BatchResult,
    Message,
    OutgoingMessage,
    Published,
    Queue,
    QueueInfo,
    Redrive,
    Subscription,
    Topic,
)

T = TypeVar("T")
Body = bytes | str


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str | int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    json: Any = None
    # a long poll may legitimately take this long before the server answers
    wait_seconds: float = 0.0


def _id(value: str) -> str:
    return quote(value, safe="")


def _json(response: httpx.Response) -> Any:
    return response.json()


def _nothing(response: httpx.Response) -> None:
    return None


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the client exception for an answer that is not 2xx."""
    if response.is_success:
        return
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            raise ValueError
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text[:200]}
    raise errors.from_response(response.status_code, problem, response.headers.get("retry-after"))


def _body(body: Body) -> bytes:
    return body.encode() if isinstance(body, str) else body


def _attribute_headers(attributes: Mapping[str, str] | None) -> dict[str, str]:
    return {f"EMS-Attribute-{name}": value for name, value in (attributes or {}).items()}


def _drop_none(params: Mapping[str, str | int | None]) -> dict[str, str | int]:
    return {name: value for name, value in params.items() if value is not None}


# queues


def create_queue(attributes: Mapping[str, Any]) -> Call[Queue]:
    return Call("POST", "/ems/queue", lambda r: Queue.from_json(r.json()), json=dict(attributes))


def get_queue(queue_id: str) -> Call[QueueInfo]:
    return Call("GET", f"/ems/queue/{_id(queue_id)}", lambda r: QueueInfo.from_json(r.json()))


def update_queue(queue_id: str, attributes: Mapping[str, Any]) -> Call[QueueInfo]:
    return Call(
        "PATCH",
        f"/ems/queue/{_id(queue_id)}",
        lambda r: QueueInfo.from_json(r.json()),
        json=dict(attributes),
    )


def delete_queue(queue_id: str) -> Call[None]:
    return Call("DELETE", f"/ems/queue/{_id(queue_id)}", _nothing)


def purge_queue(queue_id: str) -> Call[None]:
    return Call("POST", f"/ems/queue/{_id(queue_id)}/purge", _nothing)


def rotate_queue(queue_id: str) -> Call[dict[str, Any]]:
    return Call("POST", f"/ems/queue/{_id(queue_id)}/rotate", _json)


def _redrive(response: httpx.Response) -> Redrive:
    return Redrive.from_json(response.json())


def start_redrive(
    queue_id: str, destination_queue_id: str | None, max_messages_per_second: int | None
) -> Call[Redrive]:
    document = _drop_none(
        {
            "destination_queue_id": destination_queue_id,
            "max_messages_per_second": max_messages_per_second,
        }
    )
    return Call("POST", f"/ems/queue/{_id(queue_id)}/redrive", _redrive, json=document)


def get_redrive(queue_id: str) -> Call[Redrive]:
    return Call("GET", f"/ems/queue/{_id(queue_id)}/redrive", _redrive)


def cancel_redrive(queue_id: str) -> Call[Redrive]:
    return Call("DELETE", f"/ems/queue/{_id(queue_id)}/redrive", _redrive)


# messages


def send(
    queue_id: str,
    body: Body,
    correlation_id: str | None,
    delay_seconds: int | None,
    attributes: Mapping[str, str] | None,
) -> Call[str]:
    return Call(
        "POST",
        f"/ems/queue/{_id(queue_id)}/message",
        lambda r: str(r.json()["message_id"]),
        params=_drop_none({"correlation_id": correlation_id, "delay_seconds": delay_seconds}),
        headers=_attribute_headers(attributes),
        content=_body(body),
    )


def send_batch(queue_id: str, messages: Iterable[OutgoingMessage | Body]) -> Call[list[str]]:
    entries = [
        (m if isinstance(m, OutgoingMessage) else OutgoingMessage(m)).to_json() for m in messages
    ]
    return Call(
        "POST",
        f"/ems/queue/{_id(queue_id)}/messages",
        lambda r: [str(i) for i in r.json()["message_ids"]],
        json={"messages": entries},
    )


def _messages(response: httpx.Response) -> list[Message]:
    return [Message.from_json(m) for m in response.json()["messages"]]


def receive(
    queue_id: str,
    max_messages: int,
    wait_seconds: float | None,
    visibility_timeout: int | None,
    correlation_id: str | None,
) -> Call[list[Message]]:
    params = _drop_none(
        {
            "max_messages": max_messages,
            "wait_seconds": None if wait_seconds is None else int(wait_seconds),
            "visibility_timeout": visibility_timeout,
            "correlation_id": correlation_id,
        }
    )
    return Call(
        "GET",
        f"/ems/queue/{_id(queue_id)}/message",
        _messages,
        params=params,
        # the queue's default wait is at most 20 s
        wait_seconds=20.0 if wait_seconds is None else float(wait_seconds),
    )


def delete(queue_id: str, receipt_handle: str) -> Call[None]:
    return Call("DELETE", f"/ems/queue/{_id(queue_id)}/message/{_id(receipt_handle)}", _nothing)


def _results(response: httpx.Response) -> list[BatchResult]:
    return [
        BatchResult(entry["receipt_handle"], entry["status"], entry.get("error"))
        for entry in response.json()["results"]
    ]


def delete_batch(queue_id: str, receipt_handles: Iterable[str]) -> Call[list[BatchResult]]:
    return Call(
        "POST",
        f"/ems/queue/{_id(queue_id)}/messages/delete",
        _results,
        json={"receipt_handles": list(receipt_handles)},
    )


def change_visibility(queue_id: str, receipt_handle: str, visibility_timeout: int) -> Call[None]:
    return Call(
        "PATCH",
        f"/ems/queue/{_id(queue_id)}/message/{_id(receipt_handle)}",
        _nothing,
        params={"visibility_timeout": visibility_timeout},
    )


def change_visibility_batch(queue_id: str, entries: Mapping[str, int]) -> Call[list[BatchResult]]:
    return Call(
        "POST",
        f"/ems/queue/{_id(queue_id)}/messages/visibility",
        _results,
        json={
            "entries": [
                {"receipt_handle": handle, "visibility_timeout": timeout}
                for handle, timeout in entries.items()
            ]
        },
    )


def peek(queue_id: str, max_messages: int, after: str | None) -> Call[dict[str, Any]]:
    return Call(
        "GET",
        f"/ems/queue/{_id(queue_id)}/peek",
        _json,
        params=_drop_none({"max_messages": max_messages, "after": after}),
    )


# topics


def create_topic(attributes: Mapping[str, Any]) -> Call[Topic]:
    return Call("POST", "/ems/topic", lambda r: Topic.from_json(r.json()), json=dict(attributes))


def get_topic(topic_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/ems/topic/{_id(topic_id)}", _json)


def delete_topic(topic_id: str) -> Call[None]:
    return Call("DELETE", f"/ems/topic/{_id(topic_id)}", _nothing)


def subscribe(
    topic_id: str, target: dict[str, str], options: Mapping[str, Any]
) -> Call[Subscription]:
    return Call(
        "POST",
        f"/ems/topic/{_id(topic_id)}/subscription",
        lambda r: Subscription.from_json(r.json()),
        params=dict(target),
        json=dict(options) if options else None,
    )


def subscriptions(topic_id: str) -> Call[list[Subscription]]:
    return Call(
        "GET",
        f"/ems/topic/{_id(topic_id)}/subscription",
        lambda r: [Subscription.from_json(s) for s in r.json()["subscriptions"]],
    )


def get_subscription(topic_id: str, subscription_id: str) -> Call[Subscription]:
    return Call(
        "GET",
        f"/ems/topic/{_id(topic_id)}/subscription/{_id(subscription_id)}",
        lambda r: Subscription.from_json(r.json()),
    )


def unsubscribe(topic_id: str, subscription_id: str) -> Call[None]:
    return Call(
        "DELETE", f"/ems/topic/{_id(topic_id)}/subscription/{_id(subscription_id)}", _nothing
    )


def publish(
    topic_id: str, body: Body, correlation_id: str | None, attributes: Mapping[str, str] | None
) -> Call[Published]:
    return Call(
        "POST",
        f"/ems/topic/{_id(topic_id)}/message",
        lambda r: Published.from_json(r.json()),
        params=_drop_none({"correlation_id": correlation_id}),
        headers=_attribute_headers(attributes),
        content=_body(body),
    )


# the server's crypto service (the client encrypts locally unless asked otherwise)


def server_random_key() -> Call[str]:
    return Call("GET", "/ems/crypto/random-key", lambda r: r.text.strip())


def server_encrypt(key: str, data: Body) -> Call[str]:
    return Call(
        "POST",
        "/ems/crypto/encryption",
        lambda r: r.text,
        headers={"Crypto-Key": key},
        content=_body(data),
    )


def server_decrypt(key: str, token: str) -> Call[bytes]:
    return Call(
        "POST",
        "/ems/crypto/decryption",
        lambda r: r.content,
        headers={"Crypto-Key": key},
        content=token.encode(),
    )
