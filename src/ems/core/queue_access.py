"""Which capability may do what to a queue: the full (queue) id everything, the send id sending,
the receive id receiving, deleting and changing visibility. The one lookup that applies it is
:meth:`ems.core.queues.QueueService.find_queue`."""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

from ems.core.errors import WrongCapability
from ems.core.models import IdScope, QueueRecord


class Use(enum.Enum):
    """What a request means to do with the queue it names."""

    SEND = "send"
    RECEIVE = "receive"
    OWN = "own"  # read or change the queue itself (describe, update, delete, purge, peek, ...)


_SCOPES: Final = {
    Use.SEND: frozenset({IdScope.FULL, IdScope.SEND}),
    Use.RECEIVE: frozenset({IdScope.FULL, IdScope.RECEIVE}),
    Use.OWN: frozenset({IdScope.FULL}),
}
_ALLOWED: Final = {
    IdScope.SEND: "send messages (POST .../message and .../messages)",
    IdScope.RECEIVE: "receive, delete and change the visibility of messages",
}


class QueueTarget(NamedTuple):
    """A queue found for a use: checked once, then used for the whole request."""

    hash: bytes
    record: QueueRecord


def check_use(scope: IdScope, use: Use) -> None:
    if scope not in _SCOPES[use]:
        raise WrongCapability(
            f"This id is the queue's {scope.value}_id: it may only "
            f"{_ALLOWED[scope]}. Use the queue_id for anything else."
        )
