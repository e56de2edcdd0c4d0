"""The operations of EMS's native API (OpenAPI 3.1 ``paths``).

tests/api/test_openapi.py checks that these are exactly the routes the server serves, and
schemathesis checks the server's answers against them.
"""

from __future__ import annotations

from typing import Any, Final

from ems.core import limits
from ems.server.openapi.schemas import CORRELATION_ID, STRING, Schema, bounded, ref

Operation = dict[str, Any]

JSON: Final = "application/json"
# every API call may meet these: a malformed query, an address not allowed, a rate limit, a
# database that is down or a server that is stopping
COMMON_ERRORS: Final = (400, 403, 429, 503)
BINARY: Final[Schema] = {"type": "string", "format": "binary"}
# the "next" value of a previous page; at most 2**63 - 1
CURSOR: Final[Schema] = {"type": "string", "pattern": "^[0-9]{1,19}$"}


def _param(
    name: str, where: str, schema: Schema, description: str, *, required: bool = False
) -> Any:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


QUEUE_ID: Final = _param(
    "queue_id", "path", STRING, "The queue's id, or its send_id / receive_id where they may act."
)
TOPIC_ID: Final = _param("topic_id", "path", STRING, "The topic's id (a secret capability).")
RECEIPT_HANDLE: Final = _param(
    "receipt_handle", "path", STRING, "The handle of the message's latest receive."
)
CORRELATION: Final = _param("correlation_id", "query", CORRELATION_ID, "A correlation id.")
API_KEY: Final[list[dict[str, list[str]]]] = [{}, {"apiKey": []}]


def _json(schema_name: str, description: str, **extra: Any) -> Any:
    return {"description": description, "content": {JSON: {"schema": ref(schema_name)}}, **extra}


def _body(content: dict[str, Schema], *, required: bool = True) -> Any:
    return {"required": required, "content": {kind: {"schema": s} for kind, s in content.items()}}


def _json_body(schema_name: str, *, required: bool = True) -> Any:
    return _body({JSON: ref(schema_name)}, required=required)


NO_CONTENT: Final = {"description": "Done; no body."}
LOCATION: Final = {"Location": {"schema": STRING, "description": "The new resource's path."}}


def op(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[int, Any],
    *,
    errors: tuple[int, ...] = (),
    parameters: tuple[Any, ...] = (),
    body: Any = None,
    description: str = "",
    security: list[dict[str, list[str]]] | None = None,
) -> Operation:
    answers: dict[str, Any] = {str(status): r for status, r in responses.items()}
    for status in sorted({*errors, *COMMON_ERRORS}):
        answers.setdefault(str(status), {"$ref": f"#/components/responses/Problem{status}"})
    operation: Operation = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": answers,
    }
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation


def _queue_paths() -> dict[str, dict[str, Operation]]:
    q = "/ems/queue/{queue_id}"
    return {
        "/ems/queue": {
            "post": op(
                "createQueue",
                "Queues",
                "Create a queue",
                {201: _json("NewQueue", "The queue, its ids and attributes.", headers=LOCATION)},
                errors=(401, 413),
                body=_json_body("QueueSettings", required=False),
                security=API_KEY,
                description="Answers the queue_id and the scoped send_id and receive_id; keep "
                "them: nothing lists queues.",
            )
        },
        q: {
            "get": op(
                "getQueue",
                "Queues",
                "Attributes and approximate counts",
                {200: _json("QueueWithStats", "The queue.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
            ),
            "patch": op(
                "updateQueue",
                "Queues",
                "Change attributes",
                {200: _json("Queue", "All attributes, after the change.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=_json_body("QueueSettings"),
            ),
            "delete": op(
                "deleteQueue",
                "Queues",
                "Delete the queue and its messages",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(QUEUE_ID,),
            ),
        },
        f"{q}/purge": {
            "post": op(
                "purgeQueue",
                "Queues",
                "Delete every message, keep the queue",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(QUEUE_ID,),
            )
        },
        f"{q}/rotate": {
            "post": op(
                "rotateQueueIds",
                "Queues",
                "New send_id and receive_id; the old ones stop working",
                {200: _json("QueueIds", "The new scoped ids.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
            )
        },
        f"{q}/message": {
            "post": op(
                "sendMessage",
                "Messages",
                "Send one message",
                {201: _json("Sent", "Committed to disk.")},
                errors=(404, 413),
                parameters=(
                    QUEUE_ID,
                    CORRELATION,
                    _param("delay_seconds", "query", bounded(limits.DELAY, ""), "Delay delivery."),
                ),
                body=_body({"application/octet-stream": BINARY, "text/plain": STRING}),
                description="The request body is the message, byte for byte. Up to 10 "
                "attributes as headers `EMS-Attribute-<Name>: <value>`.",
            ),
            "get": op(
                "receiveMessages",
                "Messages",
                "Receive messages, long-polling if asked",
                {200: _json("Received", "Up to max_messages messages; [] when none.")},
                errors=(404,),
                parameters=(
                    QUEUE_ID,
                    _param("max_messages", "query", bounded(limits.MAX_MESSAGES, ""), "Default 1."),
                    _param("wait_seconds", "query", bounded(limits.WAIT, ""), "Long-poll wait."),
                    _param(
                        "visibility_timeout",
                        "query",
                        bounded(limits.VISIBILITY_TIMEOUT, ""),
                        "Overrides the queue's, for this receive.",
                    ),
                    CORRELATION,
                ),
            ),
        },
        f"{q}/message/{{receipt_handle}}": {
            "delete": op(
                "deleteMessage",
                "Messages",
                "Delete a received message",
                {204: NO_CONTENT},
                errors=(404, 409),
                parameters=(QUEUE_ID, RECEIPT_HANDLE),
            ),
            "patch": op(
                "changeVisibility",
                "Messages",
                "Extend a message's lease, or release it with 0",
                {204: NO_CONTENT},
                errors=(404, 409),
                parameters=(
                    QUEUE_ID,
                    RECEIPT_HANDLE,
                    _param(
                        "visibility_timeout",
                        "query",
                        bounded(limits.VISIBILITY_TIMEOUT, ""),
                        "Seconds from now.",
                        required=True,
                    ),
                ),
            ),
        },
        f"{q}/messages": {
            "post": op(
                "sendMessageBatch",
                "Messages",
                "Send up to 1000 messages, all or nothing",
                {201: _json("SentBatch", "The message ids, in order.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=_json_body("SendBatch"),
            )
        },
        f"{q}/messages/delete": {
            "post": op(
                "deleteMessageBatch",
                "Messages",
                "Delete up to 1000 received messages",
                {200: _json("BatchResults", "Each entry's status, in order.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=_json_body("DeleteBatch"),
            )
        },
        f"{q}/messages/visibility": {
            "post": op(
                "changeVisibilityBatch",
                "Messages",
                "Change up to 1000 visibility timeouts",
                {200: _json("BatchResults", "Each entry's status, in order.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=_json_body("VisibilityBatch"),
            )
        },
        f"{q}/peek": {
            "get": op(
                "peekMessages",
                "Messages",
                "Browse messages in send order without receiving them",
                {200: _json("Peeked", "A page of messages.")},
                errors=(404,),
                parameters=(
                    QUEUE_ID,
                    _param(
                        "max_messages", "query", bounded(limits.PEEK_MESSAGES, ""), "Default 10."
                    ),
                    _param("after", "query", CURSOR, "Cursor."),
                ),
            )
        },
    }


def _topic_paths() -> dict[str, dict[str, Operation]]:
    t = "/ems/topic/{topic_id}"
    subscription_id = _param("subscription_id", "path", STRING, "The subscription.")
    return {
        "/ems/topic": {
            "post": op(
                "createTopic",
                "Topics",
                "Create a topic",
                {201: _json("Topic", "The topic.", headers=LOCATION)},
                errors=(401, 413),
                body=_json_body("TopicSettings", required=False),
                security=API_KEY,
            )
        },
        t: {
            "get": op(
                "getTopic",
                "Topics",
                "Attributes, subscription counts, pushes not yet made",
                {200: _json("TopicWithStats", "The topic.")},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
            "delete": op(
                "deleteTopic",
                "Topics",
                "Delete the topic and its subscriptions",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
        },
        f"{t}/subscription": {
            "post": op(
                "subscribe",
                "Topics",
                "Subscribe a queue (?queue_id=) or a webhook (?url=)",
                {
                    200: _json("Subscription", "Already subscribed: the existing subscription."),
                    201: _json("Subscription", "Subscribed."),
                },
                errors=(404, 413),
                parameters=(
                    TOPIC_ID,
                    _param("queue_id", "query", STRING, "A queue to deliver to."),
                    _param("url", "query", STRING, "An http(s) URL to push to (confirmed first)."),
                ),
                body=_json_body("SubscriptionOptions", required=False),
                description="Give exactly one of queue_id and url.",
            ),
            "get": op(
                "listSubscriptions",
                "Topics",
                "List subscriptions",
                {200: _json("Subscriptions", "Every subscription.")},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
        },
        f"{t}/subscription/{{subscription_id}}": {
            "get": op(
                "getSubscription",
                "Topics",
                "A subscription, with delivery counts",
                {200: _json("Subscription", "The subscription.")},
                errors=(404,),
                parameters=(TOPIC_ID, subscription_id),
            ),
            "delete": op(
                "unsubscribe",
                "Topics",
                "Unsubscribe",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(TOPIC_ID, subscription_id),
            ),
        },
        f"{t}/message": {
            "post": op(
                "publish",
                "Topics",
                "Publish to every subscriber",
                {201: _json("Published", "Stored in every matching queue and outbox.")},
                errors=(404, 413),
                parameters=(TOPIC_ID, CORRELATION),
                body=_body({"application/octet-stream": BINARY, "text/plain": STRING}),
                description="The body is the message. Attributes as `EMS-Attribute-<Name>` "
                "headers.",
            )
        },
        "/ems/topic/confirm/{token}": {
            "get": op(
                "confirmSubscription",
                "Topics",
                "Confirm a webhook subscription (its confirm_url)",
                {200: _json("Confirmed", "Confirmed.")},
                errors=(404,),
                parameters=(_param("token", "path", STRING, "From the confirm_url."),),
            )
        },
    }


def _crypto_paths() -> dict[str, dict[str, Operation]]:
    key = _param("Crypto-Key", "header", STRING, "A Fernet key.", required=True)
    text = {"text/plain": {"schema": STRING}}
    return {
        "/ems/crypto/random-key": {
            "get": op(
                "randomKey",
                "Crypto",
                "A new random Fernet key",
                {
                    200: {
                        "description": "The key: text, or JSON with Accept: application/json.",
                        "content": {**text, JSON: {"schema": ref("RandomKey")}},
                    }
                },
            )
        },
        "/ems/crypto/encryption": {
            "post": op(
                "encrypt",
                "Crypto",
                "Encrypt the body",
                {200: {"description": "A Fernet token.", "content": text}},
                errors=(413,),
                parameters=(key,),
                body=_body({"application/octet-stream": BINARY, "text/plain": STRING}),
            )
        },
        "/ems/crypto/decryption": {
            "post": op(
                "decrypt",
                "Crypto",
                "Decrypt a Fernet token",
                {
                    200: {
                        "description": "The original bytes.",
                        "content": {"application/octet-stream": {"schema": BINARY}},
                    }
                },
                errors=(413,),
                parameters=(key,),
                body=_body({"text/plain": STRING}),
            )
        },
    }


def _operations_paths() -> dict[str, dict[str, Operation]]:
    after = _param("after", "query", CURSOR, "Cursor.")
    limit = _param(
        "limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Default 100."
    )
    hash_ = _param("hash", "path", STRING, "The id_hash from a listing (64 hex digits).")
    admin: list[dict[str, list[str]]] = [{"adminToken": []}]
    probe = "Health probes are never refused by the allow-list or the rate limit."
    return {
        "/healthz": {
            "get": op(
                "health",
                "Operations",
                "Liveness",
                {200: _json("Health", "Serving.")},
                description=probe,
            )
        },
        "/readyz": {
            "get": op(
                "ready",
                "Operations",
                "Readiness",
                {
                    200: _json("Ready", "Ready."),
                    503: _json("Ready", "Starting or stopping."),
                },
                description=probe,
            )
        },
        "/metrics": {
            "get": op(
                "metrics",
                "Operations",
                "Prometheus metrics",
                {
                    200: {
                        "description": "Text format.",
                        "content": {"text/plain": {"schema": STRING}},
                    }
                },
            )
        },
        "/ems/problems/{type}": {
            "get": op(
                "describeProblem",
                "Operations",
                "Describe a problem type",
                {200: _json("ProblemType", "The problem type.")},
                errors=(404,),
                parameters=(_param("type", "path", STRING, "The slug, as in invalid-request."),),
            )
        },
        "/ems/admin/queues": {
            "get": op(
                "adminListQueues",
                "Admin",
                "List queues by id hash (only with EMS_ADMIN_TOKEN)",
                {200: _json("QueuePage", "A page of queues.")},
                errors=(401, 404),
                parameters=(after, limit),
                security=admin,
            )
        },
        "/ems/admin/queues/{hash}": {
            "delete": op(
                "adminDeleteQueue",
                "Admin",
                "Delete a queue by id hash",
                {204: NO_CONTENT},
                errors=(401, 404),
                parameters=(hash_,),
                security=admin,
            )
        },
        "/ems/admin/topics": {
            "get": op(
                "adminListTopics",
                "Admin",
                "List topics by id hash",
                {200: _json("TopicPage", "A page of topics.")},
                errors=(401, 404),
                parameters=(after, limit),
                security=admin,
            )
        },
        "/ems/admin/topics/{hash}": {
            "delete": op(
                "adminDeleteTopic",
                "Admin",
                "Delete a topic by id hash",
                {204: NO_CONTENT},
                errors=(401, 404),
                parameters=(hash_,),
                security=admin,
            )
        },
    }


def _page_paths() -> dict[str, dict[str, Operation]]:
    html = {"text/html": {"schema": STRING}}

    def page(operation_id: str, summary: str) -> Operation:
        return {
            "operationId": operation_id,
            "tags": ["Pages"],
            "summary": summary,
            "responses": {
                "200": {"description": "The page.", "content": html},
                "404": {"$ref": "#/components/responses/Problem404"},
            },
        }

    assets = {kind: {"schema": STRING} for kind in ("text/javascript", "text/css", "image/svg+xml")}
    return {
        "/": {"get": page("playground", "The playground")},
        "/ems/playground": {"get": page("playgroundPage", "The playground")},
        "/ems/docs": {"get": page("apiReference", "This API reference")},
        "/ems/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["Pages"],
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/ems/static/{name}": {
            "get": {
                "operationId": "staticAsset",
                "tags": ["Pages"],
                "summary": "A script, style sheet or image of the pages",
                "parameters": [_param("name", "path", STRING, "The file name.")],
                "responses": {
                    "200": {"description": "The file.", "content": assets},
                    "304": {"description": "Not modified (If-None-Match)."},
                    "404": {"$ref": "#/components/responses/Problem404"},
                },
            }
        },
    }


def paths() -> dict[str, dict[str, Operation]]:
    return {
        **_queue_paths(),
        **_topic_paths(),
        **_crypto_paths(),
        **_operations_paths(),
        **_page_paths(),
    }
