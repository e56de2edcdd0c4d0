"""Dead-letter redrive: ``/ems/queue/{queue_id}/redrive`` (ems.server.redrive)."""

from __future__ import annotations

from ems.core.move_models import MoveStatus
from ems.core.redrive import RATE
from ems.server.openapi.operation import QUEUE_ID, Operation, json_body, json_response, op
from ems.server.openapi.schemas import COUNT, QUEUE_REF, STRING, Schema, bounded, obj

_NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}


def redrive_schemas() -> dict[str, Schema]:
    rate = bounded(RATE, "Messages moved per second at most; absent: as fast as EMS goes.")
    return {
        "RedriveStart": {
            "type": "object",
            "properties": {
                "destination_queue_id": {
                    **STRING,
                    "description": "Where every message goes (a queue_id or send_id); absent: "
                    "each message returns to the queue it was dead-lettered from.",
                },
                "max_messages_per_second": rate,
            },
            "additionalProperties": False,
        },
        "Redrive": obj(
            {
                "status": {"type": "string", "enum": [s.value for s in MoveStatus]},
                "destination_queue_ref": {"oneOf": [QUEUE_REF, {"type": "null"}]},
                "max_messages_per_second": {"oneOf": [rate, {"type": "null"}]},
                "messages_moved": COUNT,
                "messages_to_move": COUNT,
                "failure_reason": {"type": ["string", "null"]},
                "started_at": {"type": "string", "format": "date-time"},
                "finished_at": _NULLABLE_TIME,
            }
        ),
    }


def redrive_paths() -> dict[str, dict[str, Operation]]:
    return {
        "/ems/queue/{queue_id}/redrive": {
            "post": op(
                "startRedrive",
                "Queues",
                "Move a dead-letter queue's messages out",
                {201: json_response("Redrive", "The task, running.")},
                errors=(404, 409, 413),
                parameters=(QUEUE_ID,),
                body=json_body("RedriveStart", required=False),
                description="The queue must be some queue's dead-letter queue; one task runs "
                "per queue at a time. Oldest first, each move exactly once (see docs/api.md).",
            ),
            "get": op(
                "getRedrive",
                "Queues",
                "The queue's latest redrive",
                {200: json_response("Redrive", "The task.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
            ),
            "delete": op(
                "cancelRedrive",
                "Queues",
                "Stop the running redrive",
                {200: json_response("Redrive", "The task, CANCELLING.")},
                errors=(404,),
                parameters=(QUEUE_ID,),
                description="Messages already moved stay moved.",
            ),
        }
    }
