"""The OpenAPI pieces of FIFO queues: their attributes, send fields and message fields.

They appear only on FIFO queues and their messages, so none of them is required.
"""

from __future__ import annotations

from typing import Any, Final

from ems.core import fifo

Schema = dict[str, Any]

_ID: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": fifo.MAX_ID_CHARS,
    "pattern": "^[!-~]+$",
}

ATTRIBUTES: Final[dict[str, Schema]] = {
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
    "description": "FIFO queues: the message group (required there; refused elsewhere).",
}
DEDUPLICATION_HEADER: Final = {
    "name": "EMS-Deduplication-Id",
    "in": "header",
    "required": False,
    "schema": _ID,
    "description": "FIFO queues: a repeat within the window is not stored (as Idempotency-Key).",
}


def without_fifo(properties: dict[str, Schema]) -> list[str]:
    """The properties required of every queue or message: all but the FIFO ones."""
    return [name for name in properties if name not in ATTRIBUTES and name not in MESSAGE_FIELDS]
