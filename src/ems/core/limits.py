"""The bounds of every client-supplied value, and the validation that enforces them.

Validation raises errors whose ``detail`` names the field, the bound and what was received, so a
client can fix its request from the message alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ems.core.errors import (
    InvalidAttribute,
    InvalidMessageAttribute,
    InvalidRequest,
    quoted,
    redacted,
)

_INTEGER = re.compile(r"-?[0-9]{1,12}")
_CURSOR = re.compile(r"[0-9]{1,19}")
MAX_CURSOR: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Bound:
    name: str
    low: int
    high: int
    unit: str = "seconds"

    def check(self, value: object, *, error: type[InvalidRequest] = InvalidRequest) -> int:
        # bool is an int subclass, and "true" for a timeout is a client bug, not 1 second
        if not isinstance(value, int) or isinstance(value, bool):
            raise error(
                f"{self.name} must be an integer number of {self.unit} from {self.low} to "
                f"{self.high}; got {quoted(value)}.",
                parameter=self.name,
            )
        if not self.low <= value <= self.high:
            raise error(
                f"{self.name} must be from {self.low} to {self.high} {self.unit}; got {value}.",
                parameter=self.name,
            )
        return value

    def parse(self, text: str) -> int:
        """Check a query-string value: plain ASCII digits (int() would also take " 5", "1_0")."""
        if _INTEGER.fullmatch(text) is None:
            raise InvalidRequest(
                f"{self.name} must be an integer from {self.low} to {self.high}; got "
                f"{quoted(text)}.",
                parameter=self.name,
            )
        return self.check(int(text))


VISIBILITY_TIMEOUT: Final = Bound("visibility_timeout", 0, 43_200)
RETENTION: Final = Bound("retention_seconds", 60, 14 * 24 * 3600)
MAX_MESSAGE_BYTES: Final = Bound("max_message_bytes", 1024, 1_048_576, "bytes")
DELAY: Final = Bound("delay_seconds", 0, 900)
RECEIVE_WAIT: Final = Bound("receive_wait_seconds", 0, 20)
DEDUPLICATION_WINDOW: Final = Bound("deduplication_window_seconds", 1, 24 * 3600)
# the server's settings are the real ceilings (see QueueService); these only bound the type
MAX_STORED_MESSAGES: Final = Bound("max_stored_messages", 1, 10**12, "messages")
MAX_STORED_BYTES: Final = Bound("max_stored_bytes", 1024, 10**15, "bytes")
WAIT: Final = Bound("wait_seconds", 0, 20)
MAX_RECEIVES: Final = Bound("max_receives", 1, 1000, "receives")
MAX_MESSAGES: Final = Bound("max_messages", 1, 100, "messages")
PEEK_MESSAGES: Final = Bound("max_messages", 1, 1000, "messages")
# the admin console's queue table and peek
ADMIN_TABLE_PAGE: Final = Bound("limit", 1, 500, "queues")
ADMIN_OFFSET: Final = Bound("offset", 0, 100_000_000, "queues")
ADMIN_PEEK: Final = Bound("limit", 1, 100, "messages")
MAX_ADMIN_FILTER_CHARS: Final = 80

MAX_BATCH_ENTRIES: Final = 1000
MAX_MESSAGE_ATTRIBUTES: Final = 10
MAX_CORRELATION_ID_CHARS: Final = 128
# a batch carries up to 1000 messages; its JSON is bounded so one request cannot exhaust memory
MAX_BATCH_REQUEST_BYTES: Final = 16 * 1024 * 1024
MAX_JSON_REQUEST_BYTES: Final = 64 * 1024

_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

QUEUE_ATTRIBUTE_BOUNDS: Final = {
    b.name: b
    for b in (VISIBILITY_TIMEOUT, RETENTION, MAX_MESSAGE_BYTES, DELAY, RECEIVE_WAIT,
              MAX_STORED_MESSAGES, MAX_STORED_BYTES, DEDUPLICATION_WINDOW)
}  # fmt: skip
QUEUE_ATTRIBUTE_NAMES: Final = frozenset(QUEUE_ATTRIBUTE_BOUNDS) | {"dead_letter", "label"}
MAX_LABEL_CHARS: Final = 80


def check_queue_attributes(document: object) -> dict[str, Any]:
    """Validate a JSON object of queue attributes; returns it with every value checked.

    ``dead_letter`` is only shape-checked here (``None`` or ``{"queue_id", "max_receives"}``):
    resolving the target queue is the service's job.
    """
    if not isinstance(document, dict):
        raise InvalidAttribute("The body must be a JSON object of queue attributes.")
    unknown = sorted(set(document) - QUEUE_ATTRIBUTE_NAMES)
    if unknown:
        raise InvalidAttribute(
            f"Unknown queue attribute(s): {', '.join(quoted(name) for name in unknown[:5])}. "
            f"Known attributes: {', '.join(sorted(QUEUE_ATTRIBUTE_NAMES))}.",
            parameter=redacted(unknown[0]),
        )
    checked: dict[str, Any] = {}
    for name, value in document.items():
        if name == "dead_letter":
            checked[name] = _check_dead_letter(value)
        elif name == "label":
            checked[name] = _check_label(value)
        else:
            checked[name] = QUEUE_ATTRIBUTE_BOUNDS[name].check(value, error=InvalidAttribute)
    return checked


def _check_dead_letter(value: object) -> tuple[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"queue_id", "max_receives"}:
        raise InvalidAttribute(
            'dead_letter must be null or {"queue_id": "<id of an existing queue>", '
            '"max_receives": <1 to 1000>}.',
            parameter="dead_letter",
        )
    queue_id = value["queue_id"]
    if not isinstance(queue_id, str):
        raise InvalidAttribute(
            "dead_letter.queue_id must be a queue id string.", parameter="dead_letter"
        )
    return queue_id, MAX_RECEIVES.check(value["max_receives"], error=InvalidAttribute)


def _check_label(value: object) -> str | None:
    """A queue's label: null (none, or remove it) or 1 to 80 characters of one line."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_LABEL_CHARS
        or _CONTROL_CHARS.search(value)
    ):
        raise InvalidAttribute(
            f"label must be null or 1 to {MAX_LABEL_CHARS} characters without control "
            f"characters; got {quoted(value)}.",
            parameter="label",
        )
    return value


def check_message_attributes(attributes: Mapping[str, object]) -> dict[str, str]:
    """Validate message attributes; names are case-insensitive, as HTTP header names are."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidMessageAttribute(
            f"A message carries at most {MAX_MESSAGE_ATTRIBUTES} attributes; got {len(attributes)}."
        )
    checked: dict[str, str] = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or _ATTRIBUTE_NAME.fullmatch(name) is None:
            raise InvalidMessageAttribute(
                f"Attribute name {quoted(name)} is invalid: use 1 to 64 letters, digits, '_', '.' "
                "or '-', starting with a letter or digit."
            )
        if not isinstance(value, str):
            raise InvalidMessageAttribute(f"Attribute {name!r} must have a string value.")
        if _CONTROL_CHARS.search(value):
            # attribute values travel as HTTP headers (webhook pushes): no CR, LF or NUL
            raise InvalidMessageAttribute(
                f"Attribute {name!r} must not contain control characters."
            )
        key = name.lower()
        if key in checked:
            raise InvalidMessageAttribute(f"Attribute {name!r} is given twice (names ignore case).")
        checked[key] = value
    return checked


def parse_cursor(text: str, where: str) -> int:
    """A paging cursor: the ``next`` value of a previous page (a non-negative 64-bit integer,
    as the databases store it; a larger one would overflow the query, not just find nothing)."""
    if _CURSOR.fullmatch(text) is None or int(text) > MAX_CURSOR:
        raise InvalidRequest(
            f"after must be the 'next' value of a previous {where}; got {quoted(text)}.",
            parameter="after",
        )
    return int(text)


def check_correlation_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_CORRELATION_ID_CHARS
        or _CONTROL_CHARS.search(value)
    ):
        raise InvalidRequest(
            f"correlation_id must be 1 to {MAX_CORRELATION_ID_CHARS} characters without control "
            f"characters; got {quoted(value)}.",
            parameter="correlation_id",
        )
    return value
