"""The operations on queues and their messages."""

from __future__ import annotations

from ems.core import limits
from ems.server.openapi import exactly_once
from ems.server.openapi.operation import (
    API_KEY,
    BINARY,
    CORRELATION,
    CURSOR,
    DUPLICATE_HEADER,
    IDEMPOTENCY_KEY,
    LOCATION,
    NO_CONTENT,
    QUEUE_ID,
    RECEIPT_HANDLE,
    Operation,
    body_of,
    json_body,
    json_response,
    op,
    param,
)
from ems.server.openapi.schemas import STRING, bounded


def queue_paths() -> dict[str, dict[str, Operation]]:
    q = "/ems/queue/{queue_id}"
    return {
        "/ems/queue": {
            "post": op(
                "createQueue",
                "Queues",
                "Create a queue",
                {
                    201: json_response(
                        "NewQueue", "The queue, its ids and attributes.", headers=LOCATION
                    )
                },
                errors=(401, 413),
                body=json_body("QueueSettings", required=False),
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
                {200: json_response("QueueWithStats", "The queue.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
            ),
            "patch": op(
                "updateQueue",
                "Queues",
                "Change attributes",
                {200: json_response("Queue", "All attributes, after the change.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=json_body("QueueSettings"),
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
                {200: json_response("QueueIds", "The new scoped ids.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
            )
        },
        f"{q}/message": {
            "post": op(
                "sendMessage",
                "Messages",
                "Send one message",
                {
                    201: json_response("Sent", "Committed to disk."),
                    200: json_response(
                        "Sent",
                        "A repeat of an Idempotency-Key: the original message_id.",
                        headers=DUPLICATE_HEADER,
                    ),
                },
                errors=(404, 413),
                parameters=(
                    QUEUE_ID,
                    CORRELATION,
                    IDEMPOTENCY_KEY,
                    exactly_once.GROUP_HEADER,
                    exactly_once.DEDUPLICATION_HEADER,
                    param("delay_seconds", "query", bounded(limits.DELAY, ""), "Delay delivery."),
                ),
                body=body_of({"application/octet-stream": BINARY, "text/plain": STRING}),
                description="The request body is the message, byte for byte. Up to 10 "
                "attributes as headers `EMS-Attribute-<Name>: <value>`.",
            ),
            "get": op(
                "receiveMessages",
                "Messages",
                "Receive messages, long-polling if asked",
                {200: json_response("Received", "Up to max_messages messages; [] when none.")},
                errors=(404,),
                parameters=(
                    QUEUE_ID,
                    param("max_messages", "query", bounded(limits.MAX_MESSAGES, ""), "Default 1."),
                    param("wait_seconds", "query", bounded(limits.WAIT, ""), "Long-poll wait."),
                    param(
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
                    param(
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
                {
                    201: json_response("SentBatch", "The message ids, in order."),
                    200: json_response(
                        "SentBatch",
                        "Every entry repeated an idempotency key; nothing stored.",
                        headers=DUPLICATE_HEADER,
                    ),
                },
                errors=(404, 413),
                parameters=(QUEUE_ID, IDEMPOTENCY_KEY),
                body=json_body("SendBatch"),
            )
        },
        f"{q}/messages/delete": {
            "post": op(
                "deleteMessageBatch",
                "Messages",
                "Delete up to 1000 received messages",
                {200: json_response("BatchResults", "Each entry's status, in order.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=json_body("DeleteBatch"),
            )
        },
        f"{q}/messages/visibility": {
            "post": op(
                "changeVisibilityBatch",
                "Messages",
                "Change up to 1000 visibility timeouts",
                {200: json_response("BatchResults", "Each entry's status, in order.")},
                errors=(404, 413),
                parameters=(QUEUE_ID,),
                body=json_body("VisibilityBatch"),
            )
        },
        f"{q}/peek": {
            "get": op(
                "peekMessages",
                "Messages",
                "Browse messages in send order without receiving them",
                {200: json_response("Peeked", "A page of messages.")},
                errors=(404,),
                parameters=(
                    QUEUE_ID,
                    param(
                        "max_messages", "query", bounded(limits.PEEK_MESSAGES, ""), "Default 10."
                    ),
                    param("after", "query", CURSOR, "Cursor."),
                ),
            )
        },
    }
