"""Messages in the SQLite store: send, receive, delete, visibility, peek, sweeping."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ems.core.errors import (
    QueueNotFound,
)
from ems.core.models import (
    NewMessage,
    Outcome,
    PeekResult,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    StoredMessage,
    SweepReport,
)
from ems.core.outcomes import why_not
from ems.core.queue_rules import too_large as refuse_size
from ems.storage.rows import (
    MessageColumns,
    PlacedMessageColumns,
    QueueRow,
    receive_times,
    stored_message,
)
from ems.storage.sqlite.base import RETENTION_QUEUES_PER_SWEEP, SWEEP_BUDGET, Wake
from ems.storage.sqlite.fifo import FifoReceives
from ems.storage.sqlite.lookups import lookup_queue, queue_in
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class MessageOperations(FifoReceives):
    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        if self._writer is None:
            raise RuntimeError("store is not open")
        if self.health.outage is not None:
            self.health.check_room()
        await self._writer.submit_grouped(self._append, (queue_hash, messages))

    def _append(self, txn: Txn, sends: list[tuple[bytes, Sequence[NewMessage]]]) -> list[Any]:
        """All sends of a run in one INSERT: the hot path of the whole server.

        Room in each queue is reserved once for all of the run's sends to it; only when that
        fails (the queue is nearly full) is it reserved send by send, so that each send still
        fits whole or fails alone.
        """
        results: list[Any] = [None] * len(sends)
        # queue key -> (queue, [(index of the send, its rows, stored bytes, receivable)])
        planned: dict[int, tuple[QueueRow, list[tuple[int, list[Any], int, list[Any]]]]] = {}
        for index, (queue_hash, messages) in enumerate(sends):
            try:
                queue = queue_in(txn, queue_hash)
            except QueueNotFound as error:
                results[index] = error
                continue
            too_large = refuse_size(queue.record.config, messages)
            if too_large is not None:
                results[index] = too_large
                continue
            rows: list[tuple[Any, ...]] = []
            size, receivable = self._message_rows(queue, messages, txn.now_ms, rows)
            entry = planned.setdefault(queue.record.key, (queue, []))
            entry[1].append((index, rows, size, receivable))
        all_rows: list[tuple[Any, ...]] = []
        wake: Wake = {}
        for queue, parts in planned.values():
            count = sum(len(rows) for _, rows, _, _ in parts)
            size = sum(part[2] for part in parts)
            if len(parts) > 1 and self._reserve(txn, queue, count, size) is None:
                accepted = parts
            else:
                accepted = []
                for part in parts:
                    full = self._reserve(txn, queue, len(part[1]), part[2])
                    if full is None:
                        accepted.append(part)
                    else:
                        results[part[0]] = full
            for _, rows, _, receivable in accepted:
                all_rows.extend(rows)
                if receivable:
                    wake.setdefault(queue.record.key, []).extend(receivable)
        self._insert_messages(txn, all_rows, wake)
        return results

    async def receive(self, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        # receive, delete and change-visibility write only after validating: no savepoint
        return await self._write(
            lambda txn: self._receive(txn, queue_hash, request), savepoint=False
        )

    def _receive(self, txn: Txn, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        conn, now = txn.conn, txn.now_ms
        queue = queue_in(txn, queue_hash)
        config = queue.record.config
        if config.fifo is not None:
            return self._receive_fifo(txn, queue, request)
        visible_at, cutoff = receive_times(config, request, now)
        correlation_id = request.correlation_id
        max_receives = (
            config.dead_letter.max_receives
            if config.dead_letter is not None and queue.dead_letter_partition is not None
            else None
        )
        claimed: list[StoredMessage] = []
        claimed_seqs: set[int] = set()
        moved_correlations: list[str | None] = []
        moved_bytes = 0
        while len(claimed) < request.max_messages:
            limit = request.max_messages - len(claimed)
            if correlation_id is None:
                rows = conn.execute(Q["receivable"], (queue.partition, now, cutoff, limit))
            else:
                rows = conn.execute(
                    Q["receivable_correlated"],
                    (queue.partition, correlation_id, now, cutoff, limit),
                )
            claims = []
            moves = []
            for row in map(MessageColumns._make, rows.fetchall()):
                seq = row.seq
                if seq in claimed_seqs:
                    continue
                if max_receives is not None and row.receive_count >= max_receives:
                    moves.append((queue.dead_letter_partition, now, queue.record.key, seq))
                    moved_bytes += len(row.body)
                    moved_correlations.append(row.correlation_id)
                    continue
                claims.append((visible_at, now, seq))
                claimed_seqs.add(seq)
                claimed.append(stored_message(row, visible_at, self._cipher, received_at=now))
            conn.executemany(Q["claim"], claims)
            if not moves:
                break
            conn.executemany(Q["dead_letter_move"], moves)
        moved = len(moved_correlations)
        if moved:
            # the messages, and the room they take, go to the dead-letter queue
            self._dead_lettered(txn, queue, moved_bytes, moved_correlations)
        next_visible = None
        if not claimed:
            if correlation_id is None:
                (next_visible,) = conn.execute(Q["next_visible"], (queue.partition, now)).fetchone()
            else:
                (next_visible,) = conn.execute(
                    Q["next_visible_correlated"], (queue.partition, correlation_id, now)
                ).fetchone()
        return ReceiveResult(queue.record.key, claimed, next_visible, dead_lettered=moved)

    async def delete_messages(
        self, queue_hash: bytes, receipts: Sequence[Receipt]
    ) -> list[Outcome]:
        def operation(txn: Txn) -> list[Outcome]:
            conn = txn.conn
            queue = queue_in(txn, queue_hash)
            outcomes = []
            freed = freed_bytes = 0
            for receipt in receipts:
                if receipt.queue_key != queue.record.key:
                    outcomes.append(Outcome.FOREIGN)
                    continue
                deleted = conn.execute(
                    Q["delete_receipt"], (receipt.seq, queue.partition, receipt.receive_count)
                ).fetchone()
                if deleted is None:
                    outcomes.append(_why_not(conn, queue, receipt))
                    continue
                outcomes.append(Outcome.DONE)
                freed += 1
                freed_bytes += deleted[0]
            self._release(txn, queue.record.key, freed, freed_bytes)
            self._announce_release(txn, queue.record.key)
            return outcomes

        return await self._write(operation, savepoint=False)

    async def change_visibility(
        self, queue_hash: bytes, changes: Sequence[tuple[Receipt, int]]
    ) -> list[Outcome]:
        def operation(txn: Txn) -> list[Outcome]:
            conn = txn.conn
            queue = queue_in(txn, queue_hash)
            key = queue.record.key
            outcomes = []
            released = 0
            for receipt, timeout in changes:
                if receipt.queue_key != key:
                    outcomes.append(Outcome.FOREIGN)
                    continue
                cursor = conn.execute(
                    Q["change_visibility_receipt"],
                    (txn.now_ms + timeout * 1000, receipt.seq, queue.partition,
                     receipt.receive_count),
                )  # fmt: skip
                if cursor.rowcount == 1:
                    outcomes.append(Outcome.DONE)
                    released += timeout == 0
                else:
                    outcomes.append(_why_not(conn, queue, receipt))
            if released:
                txn.after_commit(lambda: self._wake({key: [None] * released}))
            self._announce_release(txn, key)
            return outcomes

        return await self._write(operation, savepoint=False)

    async def peek(self, queue_hash: bytes, *, after: int | None, limit: int) -> PeekResult:
        def query(conn: sqlite3.Connection) -> PeekResult:
            queue = lookup_queue(conn, queue_hash)
            cutoff = self.clock.now_ms() - queue.record.config.retention_seconds * 1000
            rows = conn.execute(Q["peek"], (queue.partition, after or 0, cutoff, limit))
            messages = [
                stored_message(row, row.visible_at, self._cipher, group_id=row.group_id)
                for row in map(PlacedMessageColumns._make, rows)
            ]
            next_after = messages[-1].seq if len(messages) == limit else None
            return PeekResult(messages, next_after)

        return await self._read(query)

    # housekeeping

    async def sweep(self) -> SweepReport:
        if not self._may_housekeep():
            return SweepReport()  # another worker sweeps
        if not self.health.healthy:
            await self._look_for_room()
        elif not self._disk_reserve.held:
            self._disk_reserve.ensure()
        return await self._write(self._sweep)

    def _sweep(self, txn: Txn) -> SweepReport:
        conn = txn.conn
        budget = SWEEP_BUDGET
        dropped = 0
        for (partition,) in conn.execute(Q["retired_partitions"], (8,)).fetchall():
            removed = conn.execute(Q["delete_partition_chunk"], (partition, budget)).rowcount
            dropped += removed
            budget -= removed
            if budget <= 0:
                return SweepReport(dropped=dropped, more=True)
            conn.execute(Q["forget_partition"], (partition,))
        # idempotency keys past their window (see ems.core.idempotency): no counters to adjust
        budget -= conn.execute(Q["delete_expired_idempotency_keys"], (txn.now_ms, budget)).rowcount
        if budget <= 0:
            return SweepReport(dropped=dropped, more=True)
        expired = 0
        queues = conn.execute(
            Q["queues_for_retention"], (self._retention_cursor, RETENTION_QUEUES_PER_SWEEP)
        ).fetchall()
        for key, partition, retention in queues:
            self._retention_cursor = key
            cutoff = txn.now_ms - retention * 1000
            oldest = conn.execute(Q["oldest_sent_at"], (partition,)).fetchone()
            if oldest is None or oldest[0] > cutoff:
                continue
            sizes = conn.execute(Q["delete_expired_chunk"], (partition, budget, cutoff)).fetchall()
            self._release(txn, key, len(sizes), sum(size for (size,) in sizes))
            expired += len(sizes)
            budget -= len(sizes)
            if budget <= 0:
                return SweepReport(expired=expired, dropped=dropped, more=True)
        if len(queues) < RETENTION_QUEUES_PER_SWEEP:
            self._retention_cursor = 0
        return SweepReport(expired=expired, dropped=dropped, more=False)


def _why_not(conn: sqlite3.Connection, queue: QueueRow, receipt: Receipt) -> Outcome:
    state = conn.execute(Q["message_state"], (receipt.seq,)).fetchone()
    return why_not(None if state is None else state[0], queue.partition)
