"""The OpenAPI pieces of exactly-once sends: idempotency keys, and FIFO queues' attributes, send
fields and message fields.

The FIFO fields appear only on FIFO queues and their messages, so none of them is required.
"""

from __future__ import annotations

from typing import Any, Final

from ems.core import fifo, idempotency, limits

Schema = dict[str, Any]

_ID: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": fifo.MAX_ID_CHARS,
    "pattern": "^[!-~]+$",
}

ATTRIBUTES: Final[dict[str, Schema]] = {
    "deduplication_window_seconds": {
        "type": "integer",
        "minimum": limits.DEDUPLICATION_WINDOW.low,
        "maximum": limits.DEDUPLICATION_WINDOW.high,
        "description": "How long an Idempotency-Key (or FIFO deduplication id) is remembered "
        "(default 300).",
    },
    "fifo": {"type": "boolean", "description": "A FIFO queue (set at creation only)."},
    "content_based_deduplication": {
        "type": "boolean",
        "description": "FIFO: a send without a deduplication id is deduplicated by its body's "
        "SHA-256.",
    },
    "deduplication_scope": {
        "type": "string",
        "enum": [s.value for s in fifo.DeduplicationScope],
        "description": "FIFO: deduplication ids per queue or per message group.",
    },
    "throughput_limit": {
        "type": "string",
        "enum": [t.value for t in fifo.ThroughputLimit],
        "description": "FIFO: accepted and reported (SQS's FifoThroughputLimit); changes nothing.",
    },
}
ENTRY_FIELDS: Final[dict[str, Schema]] = {
    "idempotency_key": {
        "type": "string",
        "maxLength": idempotency.MAX_KEY_CHARS,
        "description": "A repeat within the window is not stored (see Idempotency-Key).",
    },
    "group_id": {**_ID, "description": "FIFO: the message group (required there)."},
    "deduplication_id": {**_ID, "description": "FIFO: a repeat within the window is not stored."},
}
MESSAGE_FIELDS: Final[dict[str, Schema]] = {
    "group_id": {**_ID, "description": "FIFO: the message group."},
    "sequence_number": {
        "type": "string",
        "description": "FIFO: increases within the group, in send order.",
    },
}
GROUP_HEADER: Final = {
    "name": "EMS-Group-Id",
    "in": "header",
    "required": False,
    "schema": _ID,
    "description": "FIFO queues and topics: the message group (required there; refused elsewhere).",
}
DEDUPLICATION_HEADER: Final = {
    "name": "EMS-Deduplication-Id",
    "in": "header",
    "required": False,
    "schema": _ID,
    "description": "FIFO queues and topics: a repeat within the window is not stored (as "
    "Idempotency-Key).",
}


SENT_BATCH: Final = {
    "type": "object",
    "properties": {
        "message_ids": {"type": "array", "items": {"type": "string"}},
        "duplicates": {"type": "array", "items": {"type": "boolean"}},
    },
    "required": ["message_ids"],  # duplicates: when an idempotency key was given
}
_FIFO_ONLY: Final = (
    ATTRIBUTES.keys() - {"fifo", "deduplication_window_seconds"}
) | MESSAGE_FIELDS.keys()


def optional_fifo(properties: dict[str, Schema]) -> Schema:
    """An object with these properties, each required but the FIFO-only ones."""
    required = [name for name in properties if name not in _FIFO_ONLY]
    return {"type": "object", "properties": properties, "required": required}


def message(properties: dict[str, Schema]) -> Schema:
    """A message's schema: these properties, and a FIFO message's group and sequence number."""
    return optional_fifo({**properties, **MESSAGE_FIELDS})
