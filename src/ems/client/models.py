"""What the client returns: typed views of the server's JSON.

Each result keeps the whole JSON document in ``raw``, so a field added by a newer server is never
out of reach.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue just created: its full id and its two scoped ids."""

    queue_id: str
    send_id: str
    receive_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Queue:
        return cls(data["queue_id"], data["send_id"], data["receive_id"], data)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue's attributes and approximate counts."""

    visibility_timeout: int
    retention_seconds: int
    max_message_bytes: int
    delay_seconds: int
    receive_wait_seconds: int
    dead_letter: dict[str, Any] | None
    messages_visible: int
    messages_in_flight: int
    messages_delayed: int
    oldest_message_age_seconds: float | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    # a name for operators (the console); servers before labels existed answer none
    label: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueueInfo:
        return cls(
            data["visibility_timeout"],
            data["retention_seconds"],
            data["max_message_bytes"],
            data["delay_seconds"],
            data["receive_wait_seconds"],
            data.get("dead_letter"),
            data.get("messages_visible", 0),
            data.get("messages_in_flight", 0),
            data.get("messages_delayed", 0),
            data.get("oldest_message_age_seconds"),
            data,
            data.get("label"),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """A received message. ``body`` is always bytes; ``text`` decodes it as UTF-8."""

    receipt_handle: str
    message_id: str
    body: bytes
    correlation_id: str | None
    attributes: dict[str, str]
    receive_count: int
    sent_at: datetime | None
    first_received_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.body.decode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        body = data.get("body", "")
        raw_body = (
            base64.b64decode(body) if data.get("body_encoding") == "base64" else body.encode()
        )
        return cls(
            data.get("receipt_handle", ""),
            data["message_id"],
            raw_body,
            data.get("correlation_id"),
            dict(data.get("attributes") or {}),
            data.get("receive_count", 0),
            _time(data.get("sent_at")),
            _time(data.get("first_received_at")),
            data,
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One entry of a batch delete or visibility change: its status as a single call."""

    receipt_handle: str
    status: int
    error: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Topic:
    topic_id: str
    public_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Topic:
        return cls(data.get("topic_id", ""), data.get("public_id", ""), data)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription: ``signing_secret`` only in the answer to a webhook subscribe."""

    subscription_id: str
    protocol: str
    endpoint: str
    status: str
    signing_secret: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscription:
        return cls(
            data["subscription_id"],
            data.get("protocol", ""),
            data.get("endpoint", ""),
            data.get("status", ""),
            data.get("signing_secret"),
            data,
        )


@dataclass(frozen=True, slots=True)
class Published:
    """A published message: its id, how many queues, webhooks and email addresses it went to,
    and how many subscribed queues could not take it (``skipped``: see each subscription's
    last_error)."""

    message_id: str
    queues: int
    webhooks: int
    skipped: int = 0
    emails: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Published:
        return cls(
            data["message_id"],
            data.get("queues", 0),
            data.get("webhooks", 0),
            data.get("skipped", 0),
            data.get("emails", 0),
        )


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One entry of a batch send."""

    body: bytes | str
    correlation_id: str | None = None
    delay_seconds: int | None = None
    attributes: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.body, str):
            entry: dict[str, Any] = {"body": self.body}
        else:
            entry = {"body": base64.b64encode(self.body).decode(), "body_encoding": "base64"}
        if self.correlation_id is not None:
            entry["correlation_id"] = self.correlation_id
        if self.delay_seconds is not None:
            entry["delay_seconds"] = self.delay_seconds
        if self.attributes:
            entry["attributes"] = self.attributes
        return entry


@dataclass(frozen=True, slots=True)
class Redrive:
    """A dead-letter queue's message move task (``/ems/queue/{id}/redrive``)."""

    # RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED
    status: str
    # the destination's queue_ref; None: each message returns to the queue it came from
    destination_queue_ref: str | None
    max_messages_per_second: int | None
    messages_moved: int
    messages_to_move: int
    failure_reason: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.status in ("RUNNING", "CANCELLING")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Redrive:
        return cls(
            data["status"],
            data.get("destination_queue_ref"),
            data.get("max_messages_per_second"),
            data.get("messages_moved", 0),
            data.get("messages_to_move", 0),
            data.get("failure_reason"),
            data,
        )
