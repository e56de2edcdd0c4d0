"""``/ems/admin/queues/{hash}/redrive``: the operator starts (POST), shows (GET) and cancels
(DELETE) a dead-letter queue's message move tasks (ems.core.redrive), by id hash.

A task's destination appears as its id hash (all an operator knows of a queue), or ``null`` when
each message returns to the queue it was dead-lettered from.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ems.asgi import Receive, Scope, Send, query, respond_json
from ems.core.encoding import rfc3339
from ems.core.errors import QueueNotFound
from ems.core.move_models import MoveTask
from ems.core.redrive import Redrive
from ems.server.redrive import read_task_fields

FIELDS: Final = frozenset({"destination_id_hash", "max_messages_per_second"})
# the tasks a GET shows, newest first (the store keeps a few finished ones per queue)
SHOWN: Final = 5
_HASH: Final = re.compile(r"[0-9a-f]{64}")


def admin_task_document(task: MoveTask) -> dict[str, Any]:
    return {
        "status": task.status.value,
        "destination_id_hash": None
        if task.destination_hash is None
        else task.destination_hash.hex(),
        "max_messages_per_second": task.rate,
        "messages_moved": task.moved,
        "messages_to_move": task.to_move,
        "failure_reason": task.failure,
        "started_at": rfc3339(task.started_at_ms),
        "finished_at": rfc3339(task.finished_at_ms),
    }


class AdminRedrive:
    """The handlers; the caller has checked the token and resolved the queue's hash."""

    def __init__(self) -> None:
        # set when the app starts (the service it needs exists from then on)
        self.redrive: Redrive | None = None

    @property
    def _redrive(self) -> Redrive:
        if self.redrive is None:
            raise RuntimeError("the app has not started")
        return self.redrive

    async def show(self, scope: Scope, send: Send, source_hash: bytes) -> int:
        query(scope, frozenset())
        tasks = await self._redrive.tasks_by_hash(source_hash, limit=SHOWN)
        return await respond_json(send, 200, {"tasks": [admin_task_document(t) for t in tasks]})

    async def start(self, scope: Scope, receive: Receive, send: Send, source_hash: bytes) -> int:
        query(scope, frozenset())
        document = await read_task_fields(scope, receive, FIELDS)
        destination = document.get("destination_id_hash")
        if destination is not None and (
            not isinstance(destination, str) or _HASH.fullmatch(destination) is None
        ):
            raise QueueNotFound(
                "destination_id_hash must be a queue's id_hash (64 hex digits), or absent: "
                "each message then returns to the queue it came from.",
                parameter="destination_id_hash",
            )
        task = await self._redrive.start_by_hash(
            source_hash,
            destination_hash=None if destination is None else bytes.fromhex(destination),
            rate=document.get("max_messages_per_second"),
        )
        return await respond_json(send, 201, admin_task_document(task))

    async def cancel(self, scope: Scope, send: Send, source_hash: bytes) -> int:
        query(scope, frozenset())
        task = await self._redrive.cancel_by_hash(source_hash)
        return await respond_json(send, 200, admin_task_document(task))
