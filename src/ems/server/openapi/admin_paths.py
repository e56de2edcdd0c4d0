"""The admin API (only with EMS_ADMIN_TOKEN): listings, the console's reads, and its actions.

Everything is named by the SHA-256 of an id (``id_hash``), never by an id.
"""

from __future__ import annotations

from typing import Any

from ems.core.limits import ADMIN_OFFSET, ADMIN_PEEK, ADMIN_TABLE_PAGE, MAX_ADMIN_FILTER_CHARS
from ems.core.models import QueueOrder
from ems.core.redrive import RATE
from ems.server.openapi.operation import (
    CURSOR,
    NO_CONTENT,
    Operation,
    json_body,
    json_response,
    op,
    param,
)
from ems.server.openapi.schemas import (
    COUNT,
    NULLABLE_STRING,
    NULLABLE_TIMESTAMP,
    STRING,
    TIMESTAMP,
    Schema,
    obj,
    ref,
)

ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]
_AGE: Schema = {"type": ["integer", "null"], "minimum": 0}
_RATE: Schema = {"type": "number", "minimum": 0}
_NULLABLE_HASH: Schema = {"type": ["string", "null"]}
_COUNTS: Schema = {"type": "object", "additionalProperties": COUNT}


def _bounded(bound: Any, description: str) -> Any:
    schema = {"type": "integer", "minimum": bound.low, "maximum": bound.high}
    return param(bound.name, "query", schema, description)


def admin_components() -> dict[str, Schema]:
    page_item = {"id_hash": STRING, "created_at": TIMESTAMP, "owner": NULLABLE_STRING}
    counts = {
        "visible": COUNT,
        "in_flight": COUNT,
        "delayed": COUNT,
        "stored_messages": COUNT,
        "stored_bytes": COUNT,
        "oldest_message_age_seconds": _AGE,
        "sent_per_second": _RATE,
        "received_per_second": _RATE,
    }
    return {
        "QueuePage": obj(
            {
                "queues": {
                    "type": "array",
                    "items": obj(
                        {
                            **page_item,
                            "stored_messages": COUNT,
                            "stored_bytes": COUNT,
                            "oldest_message_age_seconds": _AGE,
                        }
                    ),
                },
                "next": NULLABLE_STRING,
            }
        ),
        "TopicPage": obj(
            {
                "topics": {
                    "type": "array",
                    "items": obj(
                        {
                            **page_item,
                            "subscriptions": COUNT,
                            "webhook_backlog": COUNT,
                            "failing_subscriptions": COUNT,
                        }
                    ),
                },
                "next": NULLABLE_STRING,
            }
        ),
        "QueueTable": obj(
            {
                "total": {**COUNT, "description": "Queues matching the filter."},
                "offset": COUNT,
                "queues": {
                    "type": "array",
                    "items": obj(
                        {
                            **page_item,
                            "label": NULLABLE_STRING,
                            **counts,
                            "dead_letter_hash": _NULLABLE_HASH,
                        }
                    ),
                },
            }
        ),
        "AdminQueue": obj(
            {
                "id_hash": STRING,
                "label": NULLABLE_STRING,
                "created_at": TIMESTAMP,
                **dict.fromkeys(
                    (
                        "visibility_timeout",
                        "retention_seconds",
                        "max_message_bytes",
                        "delay_seconds",
                        "receive_wait_seconds",
                    ),
                    COUNT,
                ),
                "max_stored_messages": {"type": ["integer", "null"]},
                "max_stored_bytes": {"type": ["integer", "null"]},
                "dead_letter": {
                    "oneOf": [
                        obj({"id_hash": STRING, "max_receives": COUNT}),
                        {"type": "null"},
                    ]
                },
                **counts,
            }
        ),
        "AdminTopic": obj(
            {
                "id_hash": STRING,
                "public_id": STRING,
                "created_at": TIMESTAMP,
                "subscriptions": {"type": "object"},
                "pending_deliveries": COUNT,
                "subscription_list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "description": "As a topic's subscription listing shows it, without the "
                        "signing secret, with when its next push is due.",
                        "properties": {"next_attempt_at": NULLABLE_TIMESTAMP},
                        "required": ["next_attempt_at", "subscription_id", "status"],
                    },
                },
            }
        ),
        "AdminMoveTask": obj(
            {
                "status": {"enum": ["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"]},
                "destination_id_hash": {
                    "type": ["string", "null"],
                    "description": "null: each message returns to the queue it came from.",
                },
                "max_messages_per_second": {"type": ["integer", "null"]},
                "messages_moved": COUNT,
                "messages_to_move": COUNT,
                "failure_reason": NULLABLE_STRING,
                "started_at": TIMESTAMP,
                "finished_at": NULLABLE_TIMESTAMP,
            }
        ),
        "AdminRedriveStart": {
            "type": "object",
            "properties": {
                "destination_id_hash": {
                    "type": ["string", "null"],
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "Absent or null: each message back to its source queue.",
                },
                "max_messages_per_second": {
                    "type": "integer",
                    "minimum": RATE.low,
                    "maximum": RATE.high,
                },
            },
            "additionalProperties": False,
        },
        "Overview": obj(
            {
                "version": STRING,
                "backend": {"type": "string", "enum": ["sqlite", "postgresql"]},
                "node": {"type": "string", "description": "This server: host and process."},
                "database": {"type": "string", "description": "The file, or database server."},
                "started_at": TIMESTAMP,
                "uptime_seconds": {"type": "number", "minimum": 0},
                "storage_bytes": COUNT,
                "totals": {
                    "type": "object",
                    "description": "The whole database (every node's work).",
                    "properties": {"oldest_message_age_seconds": _AGE},
                    "additionalProperties": {"type": ["integer", "null"]},
                },
                "counters": {
                    "type": "object",
                    "description": "This node's, since it started; two readings give rates.",
                    "properties": {
                        "requests": COUNT,
                        "messages": _COUNTS,
                        "webhook_pushes": _COUNTS,
                        "problems": _COUNTS,
                        "commits": COUNT,
                        "committed_operations": COUNT,
                        "commit_seconds": {"type": "number", "minimum": 0},
                    },
                },
                "long_polls_waiting": COUNT,
            }
        ),
    }


def admin_paths() -> dict[str, dict[str, Operation]]:
    queue_hash = param("hash", "path", STRING, "The queue's id_hash (64 hex digits).")
    topic_hash = param("hash", "path", STRING, "The topic's id_hash (64 hex digits).")
    subscription = param("subscription_id", "path", STRING, "The subscription.")
    after = param("after", "query", CURSOR, "Cursor.")
    list_limit = param(
        "limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Default 100."
    )
    table = (
        param("sort", "query", {"enum": [o.value for o in QueueOrder]}, "Default created."),
        param("order", "query", {"enum": ["asc", "desc"]}, "Default asc."),
        param(
            "filter",
            "query",
            {"type": "string", "maxLength": MAX_ADMIN_FILTER_CHARS},
            "Part of a label (any case), or the first hex digits of an id_hash.",
        ),
        _bounded(ADMIN_OFFSET, "Queues to skip (default 0)."),
        _bounded(ADMIN_TABLE_PAGE, "Default 50."),
    )

    def admin(
        operation_id: str, summary: str, answer: Any, *params: Any, errors: tuple[int, ...] = ()
    ) -> Operation:
        return op(
            operation_id,
            "Admin",
            summary,
            answer,
            errors=(401, 404, *errors),
            parameters=params,
            security=ADMIN,
        )

    def listing(kind: str) -> Operation:
        title = kind.capitalize()
        answer = {200: json_response(f"{title}Page", f"A page of {kind}s.")}
        return admin(f"adminList{title}s", f"List {kind}s by id hash", answer, after, list_limit)

    done = {204: NO_CONTENT}
    return {
        "/ems/admin/overview": {
            "get": admin(
                "adminOverview", "The server and database at a glance", {200: _ok("Overview")}
            )
        },
        "/ems/admin/queue-table": {
            "get": admin(
                "adminQueueTable",
                "Queues sorted, filtered, paged",
                {200: _ok("QueueTable")},
                *table,
            )
        },
        "/ems/admin/queues": {"get": listing("queue")},
        "/ems/admin/queues/{hash}": {
            "get": admin(
                "adminGetQueue",
                "A queue's attributes and counts",
                {200: _ok("AdminQueue")},
                queue_hash,
            ),
            "delete": admin("adminDeleteQueue", "Delete a queue by id hash", done, queue_hash),
        },
        "/ems/admin/queues/{hash}/messages": {
            "get": admin(
                "adminPeek",
                "Peek at a queue's messages (changes nothing)",
                {200: _ok("Peeked")},
                queue_hash,
                after,
                _bounded(ADMIN_PEEK, "Default 20."),
            )
        },
        "/ems/admin/queues/{hash}/purge": {
            "post": admin("adminPurgeQueue", "Delete every message of a queue", done, queue_hash)
        },
        "/ems/admin/queues/{hash}/redrive": {
            "get": admin(
                "adminListRedrives",
                "A dead-letter queue's recent redrives, newest first",
                {
                    200: _json_response(
                        obj({"tasks": {"type": "array", "items": ref("AdminMoveTask")}})
                    )
                },
                queue_hash,
            ),
            "post": {
                **admin(
                    "adminStartRedrive",
                    "Start moving a dead-letter queue's messages back (or to a destination)",
                    {201: _ok("AdminMoveTask")},
                    queue_hash,
                    errors=(409, 413),
                ),
                "requestBody": json_body("AdminRedriveStart", required=False),
            },
            "delete": admin(
                "adminCancelRedrive",
                "Cancel the running redrive (messages moved stay moved)",
                {200: _ok("AdminMoveTask")},
                queue_hash,
            ),
        },
        "/ems/admin/topics": {"get": listing("topic")},
        "/ems/admin/topics/{hash}": {
            "get": admin(
                "adminGetTopic",
                "A topic and its subscriptions",
                {200: _ok("AdminTopic")},
                topic_hash,
            ),
            "delete": admin("adminDeleteTopic", "Delete a topic by id hash", done, topic_hash),
        },
        "/ems/admin/topics/{hash}/subscriptions/{subscription_id}": {
            "delete": admin(
                "adminUnsubscribe", "Remove a subscription", done, topic_hash, subscription
            )
        },
        "/ems/admin/topics/{hash}/subscriptions/{subscription_id}/retry": {
            "post": admin(
                "adminRetryNow",
                "Make a subscription's waiting pushes due now",
                {
                    200: {
                        "description": "How many pushes became due.",
                        "content": _json(obj({"due_now": COUNT})),
                    }
                },
                topic_hash,
                subscription,
            )
        },
    }


def _ok(schema_name: str) -> Any:
    return json_response(schema_name, "OK.")


def _json_response(schema: Schema) -> Any:
    return {"description": "OK.", "content": _json(schema)}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def console_paths() -> dict[str, dict[str, Operation]]:
    def page(operation_id: str, summary: str, content: dict[str, Any], *params: Any) -> Operation:
        return {
            "operationId": operation_id,
            "tags": ["Pages"],
            "summary": summary,
            **({"parameters": list(params)} if params else {}),
            "responses": {
                "200": {"description": "The file.", "content": content},
                "304": {"description": "Not modified (If-None-Match)."},
                "404": {"$ref": "#/components/responses/Problem404"},
            },
        }

    files = {kind: {"schema": STRING} for kind in ("text/javascript", "text/css", "image/svg+xml")}
    name = param("name", "path", STRING, "A script, style sheet or image the console page names.")
    return {
        "/ems/admin/console": {
            "get": page(
                "adminConsole",
                "The operator console (only with EMS_ADMIN_TOKEN)",
                {"text/html": {"schema": STRING}},
            )
        },
        "/ems/admin/console/{name}": {
            "get": page(
                "adminConsoleFile", "A script, style sheet or image of the console", files, name
            )
        },
    }
