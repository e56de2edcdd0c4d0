"""Message move tasks (dead-letter redrive; the rules: :mod:`ems.core.redrive`): part of
:class:`ems.storage.base.Store` (implemented once, :mod:`ems.storage.roles.moves`)."""

from __future__ import annotations

import abc

from ems.core.move_models import MoveStep, MoveTask, NewMoveTask


class MoveTaskStore(abc.ABC):
    """Move tasks and their steps."""

    @abc.abstractmethod
    async def start_move_task(self, task: NewMoveTask, *, keep_finished: int) -> MoveTask:
        """Record a RUNNING task, counting the messages the source holds as its ``to_move``.

        The destination (any id hash that may send to it) is recorded by its full id's hash.
        Raise QueueNotFound (``parameter="destination"`` for the destination),
        NotADeadLetterQueue if no queue dead-letters into the source, InvalidRequest if the
        destination is the source (see :func:`ems.core.move_models.destination_of`), and
        MoveTaskRunning if the source has an active task. Forget the source's finished tasks
        beyond the newest ``keep_finished``.
        """

    @abc.abstractmethod
    async def list_move_tasks(self, source_hash: bytes, limit: int) -> list[MoveTask]:
        """The source queue's most recent tasks, newest first."""

    @abc.abstractmethod
    async def cancel_move_task(self, source_hash: bytes, handle: str | None) -> MoveTask:
        """Mark the source's RUNNING task (the one by ``handle``, if given) CANCELLING; raise
        MoveTaskNotFound if there is none."""

    @abc.abstractmethod
    async def claim_move_task(self, owner: str, lease_ms: int) -> MoveTask | None:
        """Lease an active task whose lease has ended (or that ``owner`` holds) to ``owner``
        for ``lease_ms``; None if there is none. Two claimants never get the same task."""

    @abc.abstractmethod
    async def move_messages(self, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        """One step of a task, in one transaction, if ``owner`` still holds its lease.

        Move up to ``limit`` of the source's visible messages, oldest first, each to
        :func:`~ems.core.move_models.destination_of` (renumbered, visible now, receive count
        0, sent now; body, attributes, correlation id and message id kept), add them to the
        task's count and renew the lease. The task ends COMPLETED when there is nothing left
        to move, CANCELLED when it was CANCELLING, FAILED (with the reason) when a message
        has nowhere to go or a queue is gone. ``lost`` when ``owner`` does not hold the lease.
        """

    @abc.abstractmethod
    async def release_move_tasks(self, owner: str) -> None:
        """End ``owner``'s leases now, so that the tasks are claimed again at once."""
