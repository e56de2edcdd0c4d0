"""Message move tasks in the PostgreSQL store: thin statements around ems.core.redrive's rules.

Any node may claim a task whose lease has ended (``FOR UPDATE SKIP LOCKED``); each step locks
the task row, checks the lease is still the caller's, and moves its batch in the same
transaction, so a node that lost its lease (paused past it, then resumed) moves nothing.
"""

from __future__ import annotations

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
from ems.storage.postgres.base import Conn, PostgresBase, Wake
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import move_task_from_row


class MoveTaskOperations(PostgresBase):
    async def start_move_task(self, task: NewMoveTask, *, keep_finished: int) -> MoveTask:
        async def operation(txn: Txn) -> MoveTask:
            conn = txn.conn
            source = await conn.fetchrow(Q["move_source"], task.source_hash)
            if source is None:
                raise QueueNotFound()
            source_key, partition, is_dead_letter = source
            if not is_dead_letter:
                raise NotADeadLetterQueue()
            destination = None
            if task.destination_hash is not None:
                found = await conn.fetchval(Q["move_destination"], task.destination_hash)
                if found is None:
                    raise QueueNotFound(parameter="destination")
                destination = bytes(found)
                verdict = destination_of(destination, None, task.source_hash)
                if isinstance(verdict, str):
                    raise InvalidRequest(verdict, parameter="destination")
            to_move = await conn.fetchval(Q["count_partition"], partition)
            await conn.execute(Q["forget_move_tasks"], source_key, keep_finished)
            row = await conn.fetchrow(
                Q["insert_move_task"],
                task.handle, source_key, destination, task.rate, task.source_label,
                task.destination_label, to_move, txn.now_ms,
            )  # fmt: skip
            if row is None:
                raise MoveTaskRunning()
            return move_task_from_row(tuple(row))

        return await self._write(operation)

    async def list_move_tasks(self, source_hash: bytes, limit: int) -> list[MoveTask]:
        async def query(conn: Conn) -> list[MoveTask]:
            rows = await conn.fetch(Q["list_move_tasks"], source_hash, limit)
            return [move_task_from_row(tuple(row)) for row in rows]

        return await self._read(query)

    async def cancel_move_task(self, source_hash: bytes, handle: str | None) -> MoveTask:
        async def operation(txn: Txn) -> MoveTask:
            row = await txn.conn.fetchrow(Q["cancel_move_task"], source_hash, handle)
            if row is None:
                raise MoveTaskNotFound()
            return move_task_from_row(tuple(row))

        return await self._write(operation)

    async def claim_move_task(self, owner: str, lease_ms: int) -> MoveTask | None:
        async def operation(txn: Txn) -> MoveTask | None:
            row = await txn.conn.fetchrow(Q["claim_move_task"], owner, txn.now_ms, lease_ms)
            return None if row is None else move_task_from_row(tuple(row))

        return await self._write(operation)

    async def release_move_tasks(self, owner: str) -> None:
        async def operation(txn: Txn) -> None:
            await txn.conn.execute(Q["release_move_tasks"], owner)

        await self._write(operation)

    async def move_messages(self, task_key: int, owner: str, limit: int, lease_ms: int) -> MoveStep:
        async def operation(txn: Txn) -> MoveStep:
            return await self._step(txn, task_key, owner, limit, lease_ms)

        return await self._write(operation)

    async def _step(
        self, txn: Txn, task_key: int, owner: str, limit: int, lease_ms: int
    ) -> MoveStep:
        conn, now = txn.conn, txn.now_ms
        task = await conn.fetchrow(Q["move_task_for_step"], task_key)
        if task is None:
            return MoveStep(0, MoveStatus.CANCELLED, lost=True)
        (state, lease_owner, lease_until, destination, source_key, partition, own_hash,
         retention) = task  # fmt: skip
        status = MoveStatus(state)
        if lease_owner != owner or lease_until < now or not status.active:
            return MoveStep(0, status, lost=True)
        if status is MoveStatus.CANCELLING:
            return await _finish(conn, task_key, MoveStatus.CANCELLED, None, now)
        if source_key is None:
            return await _finish(conn, task_key, MoveStatus.FAILED, SOURCE_DELETED, now)
        rows = await conn.fetch(Q["movable"], partition, now, now - retention * 1000, limit)
        if not rows:
            return await _finish(conn, task_key, MoveStatus.COMPLETED, None, now)
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
                return await _finish(conn, task_key, MoveStatus.FAILED, verdict, now)
            target = targets.get(verdict)
            if target is None:
                found = await conn.fetchrow(Q["queue_for_move"], verdict)
                if found is None:
                    reason = NO_DESTINATION if destination is not None else NO_SOURCE
                    return await _finish(conn, task_key, MoveStatus.FAILED, reason, now)
                target = targets[verdict] = (found[0], found[1])
            planned.append(target)
        inserts: list[tuple[Any, ...]] = []
        wake: Wake = {}
        for row, (key, target_partition) in zip(rows, planned, strict=True):
            _, _, size, message_id, correlation_id, attributes, body, cipher = row
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
            # what was stored somewhere stays storable: a move never fails for room
            txn.adjust(key, 1, size)
        await conn.execute(Q["delete_moved"], [row[0] for row in rows])
        # renumbered by the sequence: a moved message's old receipt handles never match it
        await self._insert_messages(txn, inserts, {}, wake)
        txn.adjust(source_key, -len(rows), -sum(row[2] for row in rows))
        await conn.execute(Q["step_move_task"], len(rows), now + lease_ms, task_key)
        return MoveStep(len(rows), MoveStatus.RUNNING)


async def _finish(
    conn: Conn, task_key: int, status: MoveStatus, failure: str | None, now: int
) -> MoveStep:
    await conn.execute(Q["finish_move_task"], status.value, failure, now, task_key)
    return MoveStep(0, status)
