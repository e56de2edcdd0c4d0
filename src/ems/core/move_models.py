"""Message move tasks (dead-letter redrive) as the service and the stores pass them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

SELF_DESTINATION: Final = "The destination queue is the dead-letter queue itself."
NO_SOURCE: Final = (
    "A message has no queue to return to (it was sent to the dead-letter queue directly, or "
    "its queue was deleted); give a destination."
)
NO_DESTINATION: Final = "The destination queue was deleted."
SOURCE_DELETED: Final = "The dead-letter queue was deleted."


class MoveStatus(enum.StrEnum):
    """SQS's statuses. RUNNING and CANCELLING are active: at most one per dead-letter queue."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def active(self) -> bool:
        return self in (MoveStatus.RUNNING, MoveStatus.CANCELLING)


@dataclass(frozen=True, slots=True)
class NewMoveTask:
    """A task to record. Queues are named by the hashes of their full ids; the labels are what
    the caller named them by (SQS ARNs), shown back in listings and nowhere else."""

    handle: str
    source_hash: bytes
    # None: each message back to the queue it was dead-lettered from
    destination_hash: bytes | None
    rate: int | None
    source_label: str | None = None
    destination_label: str | None = None


@dataclass(frozen=True, slots=True)
class MoveTask:
    key: int
    handle: str
    source_key: int
    destination_hash: bytes | None
    rate: int | None
    status: MoveStatus
    to_move: int
    moved: int
    failure: str | None
    started_at_ms: int
    finished_at_ms: int | None
    source_label: str | None = None
    destination_label: str | None = None


@dataclass(frozen=True, slots=True)
class MoveStep:
    """What one step of a task did: ``moved`` messages, and the task's status after it.

    ``lost`` says the caller no longer holds the task's lease (another node took it over, or it
    finished): the caller must stop driving it.
    """

    moved: int
    status: MoveStatus
    lost: bool = False


def destination_of(
    task_destination: bytes | None, message_source: bytes | None, dead_letter: bytes
) -> bytes | str:
    """Where a message goes (the full-id hash of a queue), or why the task must fail.

    The task's destination when it has one, else the queue the message was dead-lettered
    from. Never the dead-letter queue itself: the task would move the same messages forever.
    Both stores decide by this one rule.
    """
    target = task_destination if task_destination is not None else message_source
    if target is None:
        return NO_SOURCE
    if target == dead_letter:
        return SELF_DESTINATION
    return target
