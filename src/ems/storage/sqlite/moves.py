"""Message move tasks in the SQLite store: thin statements around ems.core.redrive's rules."""

from __future__ import annotations

import sqlite3
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
from ems.storage.rows import move_task_from_row
from ems.storage.sqlite.base import SqliteBase, Wake
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class MoveTaskOperations(SqliteBase):
    async def start_move_task(self, task: NewMoveTask, *, keep_finished: int) -> MoveTask:
        def operation(txn: Txn) -> MoveTask:
            conn = txn.conn
            source = conn.execute(Q["move_source"], (task.source_hash,)).fetchone()
            if source is None:
                raise QueueNotFound()
            source_key, partition, is_dead_letter = source
            if not is_dead_letter:
                raise NotADeadLetterQueue()
            destination = None
            if task.destination_hash is not None:
                found = conn.execute(Q["move_destination"], (task.destination_hash,)).fetchone()
                if found is None:
                    raise QueueNotFound(parameter="destination")
                destination = bytes(found[0])
                verdict = destination_of(destination, None, task.source_hash)
                if isinstance(verdict, str):
                    raise InvalidRequest(verdict, parameter="destination")
            (to_move,) = conn.execute(Q["count_partition"], (partition,)).fetchone()
            conn.execute(Q["forget_move_tasks"], (source_key, keep_finished))
            try:
                row = conn.execute(
                    Q["insert_move_task"],
                    (task.handle, source_key, destination, task.rate, task.source_label,
                     task.destination_label, to_move, txn.now_ms),
                ).fetchone()  # fmt: skip
            except sqlite3.IntegrityError:
                # move_tasks_active: the source has a task running
                raise MoveTaskRunning() from None
            return move_task_from_row(row)

        return await self._write(operation)

    async def list_move_tasks(self, source_hash: bytes, limit: int) -> list[MoveTask]:
        rows = await self._read(
            lambda conn: conn.execute(Q["list_move_tasks"], (source_hash, limit)).fetchall()
        )
        return [move_task_from_row(row) for row in rows]

    async def cancel_move_task(self, source_hash: bytes, handle: str | None) -> MoveTask:
        def operation(txn: Txn) -> MoveTask:
            row = txn.conn.execute(Q["cancel_move_task"], (source_hash, handle)).fetchone()
            if row is None:
                raise MoveTaskNotFound()
            return move_task_from_row(row)

        return await self._write(operation)

    async def claim_move_task(self, owner: str, lease_ms: int) -> MoveTask | None:
        def operation(txn: Txn) -> MoveTask | None:
            row = txn.conn.execute(Q["claim_move_task"], (owner, txn.now_ms, lease_ms)).fetchone()
            return None if row is None else move_task_from_row(row)

        return await self._write(operation)

    async def release_move_tasks(self, owner: str) -> None:
        def operation(txn: Txn) -> None:
            txn.conn.execute(Q["release_move_tasks"], (owner,))

        await self._write(operation)

    async def move_messages(self, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        return await self._write(lambda txn: self._step(txn, task_key, owner, limit, lease_ms))

    def _step(self, txn: Txn, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        conn, now = txn.conn, txn.now_ms
        task = conn.execute(Q["move_task_for_step"], (task_key,)).fetchone()
        if task is None:
            return MoveStep(0, MoveStatus.CANCELLED, lost=True)
        (
            status,
            lease_owner,
            lease_until,
            destination,
            source_key,
            partition,
            own_hash,
            retention,
        ) = task
        status = MoveStatus(status)
        if lease_owner != owner or lease_until < now or not status.active:
            return MoveStep(0, status, lost=True)
        if status is MoveStatus.CANCELLING:
            return _finish(conn, task_key, MoveStatus.CANCELLED, None, now)
        if source_key is None:
            return _finish(conn, task_key, MoveStatus.FAILED, SOURCE_DELETED, now)
        rows = conn.execute(
            Q["movable"], (partition, now, now - retention * 1000, limit)
        ).fetchall()
        if not rows:
            return _finish(conn, task_key, MoveStatus.COMPLETED, None, now)
        # first where each message goes (a task that fails moves nothing in its last step),
        # then the moves; destination full-id hash -> (queue key, partition)
        targets: dict[bytes, tuple[int, int]] = {}
        planned: list[tuple[int, int]] = []
        for row in rows:
            verdict = destination_of(
                None if destination is None else bytes(destination),
                None if row[1] is None else bytes(row[1]),
                bytes(own_hash),
            )
            if isinstance(verdict, str):
                return _finish(conn, task_key, MoveStatus.FAILED, verdict, now)
            target = targets.get(verdict)
            if target is None:
                found = conn.execute(Q["queue_for_move"], (verdict,)).fetchone()
                if found is None:
                    reason = NO_DESTINATION if destination is not None else NO_SOURCE
                    return _finish(conn, task_key, MoveStatus.FAILED, reason, now)
                target = targets[verdict] = (found[0], found[1])
            planned.append(target)
        inserts: list[tuple[Any, ...]] = []
        wake: Wake = {}
        added: dict[int, list[int]] = {}
        for row, (key, target_partition) in zip(rows, planned, strict=True):
            seq, _, size, message_id, correlation_id, attributes, body, cipher = row
            inserts.append(
                (
                    target_partition,
                    now,
                    now,
                    message_id,
                    correlation_id,
                    attributes,
                    body,
                    cipher,
                    None,
                )
            )
            wake.setdefault(key, []).append(correlation_id)
            counted = added.setdefault(key, [0, 0])
            counted[0] += 1
            counted[1] += size
            conn.execute(Q["delete_moved"], (seq,))
        # renumbered: a moved message's old receipt handles must never match it again
        self._insert_messages(txn, inserts, wake)
        for key, (count, size) in added.items():
            # what was stored somewhere stays storable: a move never fails for room
            conn.execute(Q["force_storage"], (count, size, key))
        self._release(txn, source_key, len(rows), sum(row[2] for row in rows))
        conn.execute(Q["step_move_task"], (len(rows), now + lease_ms, task_key))
        return MoveStep(len(rows), MoveStatus.RUNNING)


def _finish(
    conn: sqlite3.Connection, task_key: int, status: MoveStatus, failure: str | None, now: int
) -> MoveStep:
    conn.execute(Q["finish_move_task"], (status.value, failure, now, task_key))
    return MoveStep(0, status)
