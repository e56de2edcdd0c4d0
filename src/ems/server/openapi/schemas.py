"""The JSON Schemas of EMS's request and response documents (OpenAPI 3.1 ``components``).

Bounds come from the same :mod:`ems.core.limits` objects the handlers validate with, and problem
types from the server's catalogue, so the description cannot drift from what is enforced.
"""

from __future__ import annotations

from typing import Any, Final

from ems.core import limits
from ems.server import problems
from ems.server.openapi import exactly_once

Schema = dict[str, Any]

STRING: Final[Schema] = {"type": "string"}
NULLABLE_STRING: Final[Schema] = {"type": ["string", "null"]}
TIMESTAMP: Final[Schema] = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP: Final[Schema] = {"type": ["string", "null"], "format": "date-time"}
COUNT: Final[Schema] = {"type": "integer", "minimum": 0}
# a filter policy's allowed values for one attribute
CORRELATION_ID: Final[Schema] = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.MAX_CORRELATION_ID_CHARS,
    "pattern": "^[^\\x00-\\x1f\\x7f]+$",
}
QUEUE_REF: Final[Schema] = {
    "type": "string",
    "pattern": "^queue:[A-Za-z0-9_-]{12}$",
    "description": "A queue's non-secret reference: names it, grants nothing.",
}
MESSAGE_ATTRIBUTES: Final[Schema] = {
    "type": "object",
    "maxProperties": limits.MAX_MESSAGE_ATTRIBUTES,
    "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$"},
    "additionalProperties": {"type": "string", "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def bounded(bound: limits.Bound, description: str) -> Schema:
    return {
        "type": "integer",
        "minimum": bound.low,
        "maximum": bound.high,
        "description": description,
    }


def obj(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    """An object with exactly these properties; every one is present unless ``required``."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


def _queue_attributes() -> dict[str, Schema]:
    return {
        "visibility_timeout": bounded(
            limits.VISIBILITY_TIMEOUT, "Seconds a received message stays invisible (default 30)."
        ),
        "retention_seconds": bounded(
            limits.RETENTION, "Messages older than this are deleted (default 4 days)."
        ),
        "max_message_bytes": bounded(
            limits.MAX_MESSAGE_BYTES, "Body plus attribute names and values (default 262144)."
        ),
        "delay_seconds": bounded(limits.DELAY, "Default delay of new messages (default 0)."),
        "receive_wait_seconds": bounded(
            limits.RECEIVE_WAIT, "Default long-poll wait of receives (default 0)."
        ),
        "max_stored_messages": bounded(
            limits.MAX_STORED_MESSAGES,
            "Messages the queue may hold (default and ceiling: the server's); beyond, 429.",
        ),
        "max_stored_bytes": bounded(
            limits.MAX_STORED_BYTES, "Bytes of bodies the queue may hold (ceiling: the server's)."
        ),
    }


def _problem() -> Schema:
    types = sorted(problems.PROBLEM_BASE + slug for slug in problems.catalogue())
    return {
        "type": "object",
        "description": "An RFC 9457 problem. Branch on `type` or `status`, never on `detail`.",
        "properties": {
            "type": {
                "type": "string",
                "enum": types,
                "description": "Stable; a GET on it describes the problem.",
            },
            "title": STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "For people, not for code."},
            "instance": STRING,
            "parameter": {
                "type": "string",
                "description": "The parameter, attribute or field at fault, when there is one.",
            },
        },
        "required": ["type", "title", "status", "detail"],
    }


def _message(extra: dict[str, Schema]) -> Schema:
    properties = {
        **extra,
        "message_id": {"type": "string", "format": "uuid"},
        "body": {"type": "string", "description": "Text, or base64 per body_encoding."},
        "body_encoding": {"type": "string", "enum": ["utf-8", "base64"]},
        "correlation_id": NULLABLE_STRING,
        "attributes": {"type": "object", "additionalProperties": STRING},
        "receive_count": COUNT,
        "sent_at": TIMESTAMP,
        "first_received_at": NULLABLE_TIMESTAMP,
    }
    return exactly_once.message(properties)


def _batch_results() -> Schema:
    entry = obj(
        {
            "receipt_handle": STRING,
            "status": {"type": "integer", "description": "What a single request would answer."},
            "error": ref("Problem"),
        },
        required=["receipt_handle", "status"],
    )
    return obj({"results": {"type": "array", "items": entry}})


def components() -> dict[str, Schema]:
    attributes = {**_queue_attributes(), **exactly_once.ATTRIBUTES}
    dead_letter = obj(
        {
            "queue_id": {
                "type": "string",
                "description": "The dead-letter queue (or its send_id).",
            },
            "max_receives": bounded(limits.MAX_RECEIVES, "Receives before a message moves."),
        }
    )
    label = {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": limits.MAX_LABEL_CHARS,
        "description": "A name for operators (the admin console, /metrics); not secret, grants "
        "nothing. null removes it.",
    }
    settings = {
        **attributes,
        "label": label,
        "dead_letter": {"oneOf": [dead_letter, {"type": "null"}]},
    }
    queue_ids = {"queue_id": STRING, "send_id": STRING, "receive_id": STRING}
    queue = exactly_once.optional_fifo
    stats = {
        "messages_visible": COUNT,
        "messages_in_flight": COUNT,
        "messages_delayed": COUNT,
        "oldest_message_age_seconds": {"type": ["integer", "null"], "minimum": 0},
        "stored_messages": COUNT,
        "stored_bytes": COUNT,
    }
    batch_entry = {
        "type": "object",
        "properties": {
            "body": STRING,
            "body_encoding": {"type": "string", "enum": ["utf-8", "base64"], "default": "utf-8"},
            "correlation_id": CORRELATION_ID,
            "delay_seconds": bounded(limits.DELAY, "Overrides the queue's delay."),
            "attributes": MESSAGE_ATTRIBUTES,
            **exactly_once.ENTRY_FIELDS,
        },
        "required": ["body"],
        "additionalProperties": False,
    }
    return {
        "Problem": _problem(),
        "QueueSettings": {
            "type": "object",
            "properties": settings,
            "additionalProperties": False,
            "description": "Queue attributes; any subset may be given.",
        },
        "NewQueue": queue({**queue_ids, "queue_ref": QUEUE_REF, **settings}),
        "Queue": queue({"queue_id": STRING, "queue_ref": QUEUE_REF, **settings}),
        "QueueWithStats": queue({"queue_id": STRING, "queue_ref": QUEUE_REF, **settings, **stats}),
        "QueueIds": obj(queue_ids),
        "Sent": obj({"message_id": {"type": "string", "format": "uuid"}}),
        "SendBatch": {
            "type": "object",
            "properties": {
                "messages": {
                    "type": "array",
                    "items": batch_entry,
                    "minItems": 1,
                    "maxItems": limits.MAX_BATCH_ENTRIES,
                }
            },
            "required": ["messages"],
            "additionalProperties": False,
        },
        "SentBatch": exactly_once.SENT_BATCH,
        "ReceivedMessage": _message({"receipt_handle": STRING}),
        "Received": obj({"messages": {"type": "array", "items": ref("ReceivedMessage")}}),
        "PeekedMessage": _message(
            {
                "state": {"type": "string", "enum": ["visible", "in_flight", "delayed"]},
                "visible_at": TIMESTAMP,
            }
        ),
        "Peeked": obj(
            {
                "messages": {"type": "array", "items": ref("PeekedMessage")},
                "next": {"type": ["string", "null"], "description": "Cursor for ?after=."},
            }
        ),
        "DeleteBatch": _strict_list(
            "receipt_handles", STRING, "Receipt handles to delete, up to 1000."
        ),
        "VisibilityBatch": _strict_list(
            "entries",
            {
                "type": "object",
                "properties": {
                    "receipt_handle": STRING,
                    "visibility_timeout": bounded(limits.VISIBILITY_TIMEOUT, "Seconds from now."),
                },
                "required": ["receipt_handle", "visibility_timeout"],
                "additionalProperties": False,
            },
            "New visibility timeouts, up to 1000.",
        ),
        "BatchResults": _batch_results(),
        "RandomKey": obj({"key": {"type": "string", "description": "A Fernet key."}}),
        "Health": obj({"status": {"type": "string", "enum": ["ok"]}, "version": STRING}),
        "Ready": obj(
            {
                "ready": {"type": "boolean"},
                "storage": {
                    "type": "string",
                    "description": "Why the store cannot be written, when that is why the "
                    "node is not ready: timeout, unreachable, read-only, disk-full, ...",
                },
            },
            required=["ready"],
        ),
        "ProblemType": obj(
            {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer"},
                "description": STRING,
            }
        ),
    }


def _strict_list(field: str, items: Schema, description: str) -> Schema:
    return {
        "type": "object",
        "properties": {
            field: {
                "type": "array",
                "items": items,
                "minItems": 1,
                "maxItems": limits.MAX_BATCH_ENTRIES,
                "description": description,
            }
        },
        "required": [field],
        "additionalProperties": False,
    }
