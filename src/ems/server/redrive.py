"""``/ems/queue/{dead_letter_id}/redrive``: start (POST), show (GET) and cancel (DELETE) the
dead-letter queue's message move task (ems.core.redrive).

A task is shown by what it does, never by another queue's id: its destination appears as that
queue's ``queue_ref`` (the non-secret name its owner sees when describing it), or ``null``
when each message returns to the queue it was dead-lettered from.
"""

from __future__ import annotations

from typing import Any, Final

from ems.asgi import PathArgs, Receive, Scope, Send, query, read_json, respond_json
from ems.core import capabilities, limits
from ems.core.encoding import rfc3339
from ems.core.errors import InvalidRequest, MoveTaskNotFound, quoted
from ems.core.move_models import MoveTask
from ems.core.queue_access import Use
from ems.core.redrive import Redrive
from ems.server.routing import Route

ROUTE: Final = "/ems/queue/{queue_id}/redrive"
NO_PARAMS: Final = frozenset[str]()
FIELDS: Final = frozenset({"destination_queue_id", "max_messages_per_second"})


def task_document(task: MoveTask) -> dict[str, Any]:
    return {
        "status": task.status.value,
        "destination_queue_ref": (
            None if task.destination_hash is None else capabilities.reference(task.destination_hash)
        ),
        "max_messages_per_second": task.rate,
        "messages_moved": task.moved,
        "messages_to_move": task.to_move,
        "failure_reason": task.failure,
        "started_at": rfc3339(task.started_at_ms),
        "finished_at": rfc3339(task.finished_at_ms),
    }


async def read_task_fields(
    scope: Scope, receive: Receive, fields: frozenset[str]
) -> dict[str, Any]:
    """The body that starts a task: a JSON object of only ``fields`` (or empty, as ``{}``)."""
    document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES, optional=True)
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise InvalidRequest("The body must be a JSON object (or empty).")
    unknown = sorted(set(document) - fields)
    if unknown:
        raise InvalidRequest(
            f"Unknown field {quoted(unknown[0])}; known: {', '.join(sorted(fields))}.",
            parameter=unknown[0],
        )
    return document


class RedriveHandlers:
    def __init__(self, redrive: Redrive) -> None:
        self.redrive = redrive
        methods = {"POST": self.start, "GET": self.show, "DELETE": self.cancel}
        self.routes = [Route(ROUTE, methods, "a queue's redrive")]

    async def start(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        # the queue first: an unknown queue costs no upload
        await self.redrive.service.find_queue(path["queue_id"], Use.OWN)
        document = await read_task_fields(scope, receive, FIELDS)
        destination = document.get("destination_queue_id")
        if destination is not None and not isinstance(destination, str):
            raise InvalidRequest(
                "destination_queue_id must be a queue id (or absent: each message returns to "
                "the queue it came from).",
                parameter="destination_queue_id",
            )
        task = await self.redrive.start(
            path["queue_id"],
            destination_id=destination,
            rate=document.get("max_messages_per_second"),
        )
        return await respond_json(send, 201, task_document(task))

    async def show(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        tasks = await self.redrive.tasks(path["queue_id"], limit=1)
        if not tasks:
            raise MoveTaskNotFound("This queue has had no redrive; start one with POST.")
        return await respond_json(send, 200, task_document(tasks[0]))

    async def cancel(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        task = await self.redrive.cancel(path["queue_id"])
        return await respond_json(send, 200, task_document(task))
