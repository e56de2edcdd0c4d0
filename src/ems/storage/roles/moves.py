"""Message move tasks (dead-letter redrive), for every driver: thin statements around
:mod:`ems.core.redrive`'s and :mod:`ems.core.move_models`' rules.

A step checks the caller still holds the task's lease, plans where each message goes (a task
that fails moves nothing in its last step), then has the driver relocate them
(:meth:`MoveTasks._relocate`: the one part that differs, in how messages are renumbered and
queue counters kept). On PostgreSQL the step's statements lock the task row and skip message rows
a receive holds, so a node that lost its lease (paused past it, then resumed) moves nothing.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ems.core.errors import (
    InvalidRequest,
    MoveTaskNotFound,
    MoveTaskRunning,
    NotADeadLetterQueue,
    QueueNotFound,
)
from ems.core.move_models import (
    NO_DESTINATION,
    NO_SOURCE,
    SOURCE_DELETED,
    MoveStatus,
    MoveStep,
    MoveTask,
    NewMoveTask,
    destination_of,
)
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.name_rows import (
    MovableColumns,
    MoveSourceColumns,
    MoveStepColumns,
    move_task_from_row,
)


@dataclass(slots=True)
class Relocation:
    """What one step moves: the source's message numbers, the rows to insert (renumbered) in
    their destinations, and the counts to add to each destination and take from the source."""

    source_key: int
    seqs: list[int] = field(default_factory=list)
    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    # queue key -> correlation ids of the messages that became receivable there
    wake: dict[int, list[str | None]] = field(default_factory=dict)
    # destination queue key -> [messages, bytes]
    added: dict[int, list[int]] = field(default_factory=dict)
    removed_bytes: int = 0


class MoveTasks(Driver):
    @abstractmethod
    async def _relocate(self, txn: Any, moves: Relocation) -> None:
        """Delete the moved messages from the source and insert them, renumbered (a moved
        message's old receipt handles must never match it again), into their destinations;
        what was stored somewhere stays storable: a move never fails for room."""

    async def start_move_task(self, task: NewMoveTask, *, keep_finished: int) -> MoveTask:
        async def operation(txn: Transaction) -> MoveTask:
            db = txn.db
            found_source = await db.row("move_source", task.source_hash)
            if found_source is None:
                raise QueueNotFound()
            source = MoveSourceColumns._make(found_source)
            if not source.is_dead_letter:
                raise NotADeadLetterQueue()
            destination = None
            if task.destination_hash is not None:
                found = await db.value("move_destination", task.destination_hash)
                if found is None:
                    raise QueueNotFound(parameter="destination")
                destination = bytes(found)
                verdict = destination_of(destination, None, task.source_hash)
                if isinstance(verdict, str):
                    raise InvalidRequest(verdict, parameter="destination")
            to_move = await db.value("count_partition", source.partition)
            await db.run("forget_move_tasks", source.key, keep_finished)
            row = await db.row(
                "insert_move_task",
                task.handle, source.key, destination, task.rate, task.source_label,
                task.destination_label, to_move, txn.now_ms,
            )  # fmt: skip
            if row is None:  # move_tasks_active: the source has a task running
                raise MoveTaskRunning()
            return move_task_from_row(tuple(row))

        return await self._transact(operation)

    async def list_move_tasks(self, source_hash: bytes, limit: int) -> list[MoveTask]:
        async def query(db: Statements) -> list[MoveTask]:
            rows = await db.rows("list_move_tasks", source_hash, limit)
            return [move_task_from_row(tuple(row)) for row in rows]

        return await self._query(query)

    async def cancel_move_task(self, source_hash: bytes, handle: str | None) -> MoveTask:
        async def operation(txn: Transaction) -> MoveTask:
            row = await txn.db.row("cancel_move_task", source_hash, handle)
            if row is None:
                raise MoveTaskNotFound()
            return move_task_from_row(tuple(row))

        return await self._transact(operation)

    async def claim_move_task(self, owner: str, lease_ms: int) -> MoveTask | None:
        async def operation(txn: Transaction) -> MoveTask | None:
            row = await txn.db.row("claim_move_task", owner, txn.now_ms, lease_ms)
            return None if row is None else move_task_from_row(tuple(row))

        return await self._transact(operation)

    async def release_move_tasks(self, owner: str) -> None:
        async def operation(txn: Transaction) -> None:
            await txn.db.run("release_move_tasks", owner)

        await self._transact(operation)

    async def move_messages(self, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        async def operation(txn: Transaction) -> MoveStep:
            return await self._step(txn, task_key, owner, limit, lease_ms)

        return await self._transact(operation)

    async def _step(
        self, txn: Transaction, task_key: int, owner: str, limit: int, lease_ms: int
    ) -> MoveStep:
        db, now = txn.db, txn.now_ms
        found = await db.row("move_task_for_step", task_key)
        if found is None:
            return MoveStep(0, MoveStatus.CANCELLED, lost=True)
        task = MoveStepColumns._make(found)
        status = MoveStatus(task.status)
        if task.lease_owner != owner or task.lease_until < now or not status.active:
            return MoveStep(0, status, lost=True)
        if status is MoveStatus.CANCELLING:
            return await _finish(db, task_key, MoveStatus.CANCELLED, None, now)
        source_key, own_hash, retention = task.source_key, task.source_hash, task.retention_seconds
        if source_key is None or own_hash is None or retention is None:
            return await _finish(db, task_key, MoveStatus.FAILED, SOURCE_DELETED, now)
        destination = task.destination_hash
        rows = [
            MovableColumns._make(row)
            for row in await db.rows("movable", task.partition, now, now - retention * 1000, limit)
        ]
        if not rows:
            return await _finish(db, task_key, MoveStatus.COMPLETED, None, now)
        # first where each message goes, then the moves; destination full-id hash -> (queue
        # key, partition)
        targets: dict[bytes, tuple[int, int]] = {}
        planned: list[tuple[int, int]] = []
        for row in rows:
            verdict = destination_of(
                None if destination is None else bytes(destination),
                None if row.source_hash is None else bytes(row.source_hash),
                bytes(own_hash),
            )
            if isinstance(verdict, str):
                return await _finish(db, task_key, MoveStatus.FAILED, verdict, now)
            target = targets.get(verdict)
            if target is None:
                queue = await db.row("queue_for_move", verdict)
                if queue is None:
                    reason = NO_DESTINATION if destination is not None else NO_SOURCE
                    return await _finish(db, task_key, MoveStatus.FAILED, reason, now)
                key, partition = queue
                target = targets[verdict] = (key, partition)
            planned.append(target)
        moves = Relocation(source_key)
        for row, (key, target_partition) in zip(rows, planned, strict=True):
            moves.seqs.append(row.seq)
            # a FIFO message keeps its group: redrives go from FIFO to FIFO queues only
            moves.inserts.append(
                (target_partition, now, now, row.message_id, row.correlation_id, row.attributes,
                 row.body, row.cipher, row.group_id)
            )  # fmt: skip
            moves.wake.setdefault(key, []).append(row.correlation_id)
            counted = moves.added.setdefault(key, [0, 0])
            counted[0] += 1
            counted[1] += row.size
            moves.removed_bytes += row.size
        await self._relocate(txn, moves)
        await db.run("step_move_task", len(rows), now + lease_ms, task_key)
        return MoveStep(len(rows), MoveStatus.RUNNING)


async def _finish(
    db: Statements, task_key: int, status: MoveStatus, failure: str | None, now: int
) -> MoveStep:
    await db.run("finish_move_task", status.value, failure, now, task_key)
    return MoveStep(0, status)
