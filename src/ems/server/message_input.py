"""A message as a request gives it: attributes from ``ems-attribute-*`` headers, and the entries
of a batch send (``{"body": ..., "body_encoding": ..., ...}``), checked against the queue's limits.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from ems.asgi import Scope
from ems.core import limits
from ems.core.errors import InvalidMessageAttribute, InvalidRequest, MessageTooLarge, quoted
from ems.core.models import NewMessage

ATTRIBUTE_HEADER: Final = b"ems-attribute-"
BATCH_ENTRY_FIELDS: Final = frozenset(
    {
        "body",
        "body_encoding",
        "correlation_id",
        "delay_seconds",
        "attributes",
        "idempotency_key",
        "group_id",
        "deduplication_id",
    }
)


def attributes_from_headers(scope: Scope) -> dict[str, str] | None:
    found: dict[str, str] | None = None
    for name, value in scope["headers"]:
        if name.startswith(ATTRIBUTE_HEADER):
            if found is None:
                found = {}
            try:
                found[name[len(ATTRIBUTE_HEADER) :].decode("ascii")] = value.decode()
            except UnicodeDecodeError:
                raise InvalidMessageAttribute(
                    f"Header {quoted(name.decode('latin-1'))} must carry a UTF-8 value."
                ) from None
    return limits.check_message_attributes(found) if found else None


def batch_message(index: int, entry: object, max_bytes: int, message_id: str) -> NewMessage:
    if isinstance(entry, dict) and len(entry) == 1:
        # the common case, {"body": "text"}, without the general path's lookups
        text = entry.get("body")
        if isinstance(text, str):
            body = text.encode()
            if len(body) <= max_bytes:
                return NewMessage(message_id, body)
    where = f"messages[{index}]"
    if not isinstance(entry, dict):
        raise InvalidRequest(f'{where} must be an object with at least a "body".')
    unknown = entry.keys() - BATCH_ENTRY_FIELDS
    if unknown:
        raise InvalidRequest(
            f"{where} has unknown field(s) {', '.join(quoted(u) for u in sorted(unknown)[:5])}; "
            "known: "
            f"{', '.join(sorted(BATCH_ENTRY_FIELDS))}."
        )
    text = entry.get("body")
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}.body must be a string (text, or base64 with body_encoding).")
    encoding = entry.get("body_encoding", "utf-8")
    if encoding == "utf-8":
        body = text.encode()
    elif encoding == "base64":
        try:
            body = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{where}.body is not valid base64.") from None
    else:
        raise InvalidRequest(f'{where}.body_encoding must be "utf-8" or "base64".')
    try:
        correlation_id = entry.get("correlation_id")
        if correlation_id is not None:
            correlation_id = limits.check_correlation_id(correlation_id)
        delay = entry.get("delay_seconds")
        if delay is not None:
            delay = limits.DELAY.check(delay)
        attributes = entry.get("attributes")
        if attributes is not None:
            if not isinstance(attributes, dict):
                raise InvalidMessageAttribute("attributes must be an object of strings.")
            attributes = limits.check_message_attributes(attributes) or None
    except InvalidRequest as error:
        raise type(error)(f"{where}: {error.detail}", parameter=error.parameter) from None
    message = NewMessage(message_id, body, correlation_id, attributes, delay)
    if message.size > max_bytes:
        raise MessageTooLarge(
            f"{where} is {message.size} bytes (body plus attributes); this queue accepts at most "
            f"{max_bytes}."
        )
    return message
