"""The live streams (Server-Sent Events) of queues and topics (docs/streams.md)."""

from __future__ import annotations

from ems.core import limits
from ems.server.openapi.operation import CORRELATION, QUEUE_ID, TOPIC_ID, Operation, op, param
from ems.server.openapi.schemas import STRING, bounded

EVENTS = (
    "`retry: 3000` first; then one `message` event per message (`id:` the message id, `data:` "
    "the message as JSON); a comment line (`: keep-alive`) about every 15 s without one; "
    "`event: error` (a problem object) if the queue goes away or storage fails; `event: end` "
    "when the server stops. `Last-Event-ID` is accepted and changes nothing."
)


def _event_stream(description: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {"text/event-stream": {"schema": STRING}},
    }


def stream_paths() -> dict[str, dict[str, Operation]]:
    return {
        "/ems/queue/{queue_id}/stream": {
            "get": op(
                "streamQueue",
                "Messages",
                "Stream messages as they arrive (Server-Sent Events)",
                {200: _event_stream("An endless event stream of messages, as receives.")},
                errors=(404,),
                parameters=(
                    QUEUE_ID,
                    param(
                        "visibility_timeout",
                        "query",
                        bounded(limits.STREAM_VISIBILITY_TIMEOUT, ""),
                        "How long a streamed message stays in flight; default the queue's "
                        "(which must then not be 0).",
                    ),
                    param(
                        "max_in_flight",
                        "query",
                        bounded(limits.MAX_IN_FLIGHT, ""),
                        "Unacknowledged (not yet deleted) messages at once; default 10.",
                    ),
                    param(
                        "delete",
                        "query",
                        {"type": "string", "enum": ["true", "false"]},
                        "true: delete each message once written (at most once).",
                    ),
                    CORRELATION,
                ),
                description="Each message is received exactly as by a receive (in flight "
                "under the visibility timeout, with a receipt handle) and written as it becomes "
                "receivable; delete it to acknowledge. " + EVENTS,
            )
        },
        "/ems/topic/{topic_id}/stream": {
            "get": op(
                "streamTopic",
                "Topics",
                "Stream messages published while connected (Server-Sent Events)",
                {200: _event_stream("An endless event stream of published messages.")},
                errors=(404,),
                parameters=(TOPIC_ID,),
                description="Messages published through this server while the stream is "
                'open; nothing is stored or replayed. `event: dropped` (`{"dropped": N}`) '
                "says a reader too slow to keep up lost N messages. " + EVENTS,
            )
        },
    }
