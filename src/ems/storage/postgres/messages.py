"""Messages in the PostgreSQL store: send, receive, delete, visibility, peek, sweeping.

The hot paths take a queue's key and settings from this node's cache and let each statement find
the queue's current partition itself (``partition = (SELECT partition FROM queues ...)``), so a
purge or delete on another node can never be undone by a stale cache entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ems.core.errors import QueueNotFound
from ems.core.models import (
    NewMessage,
    Outcome,
    PeekResult,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    StoredMessage,
)
from ems.core.outcomes import outcomes as decide
from ems.core.outcomes import unmatched
from ems.core.queue_rules import too_large as refuse_size
from ems.storage.postgres.base import Conn, Wake, lookup_queue
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.fifo import FifoReceives
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import ClaimedColumns, PlacedMessageColumns, QueueRow, stored_message

# the order grouped operations run in, after all others (see batcher.py): receives and deletes
# lock message rows, sends then lock queue rows in key order
RECEIVES, DELETES, SENDS = 0, 1, 2

# (index of the send, its rows, stored bytes, correlation ids of its receivable messages)
_Part = tuple[int, list[tuple[Any, ...]], int, list[str | None]]


class MessageOperations(FifoReceives):
    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        if self._batcher is None:
            raise RuntimeError("store is not open")
        queue = await self._cached_queue(queue_hash)
        await self._batcher.submit_grouped(self._append, (queue, messages), phase=SENDS)

    async def _append(
        self, txn: Txn, sends: list[tuple[QueueRow, Sequence[NewMessage]]]
    ) -> list[Any]:
        """All sends of a batch in one INSERT: the hot path of the whole server.

        Room in each queue is reserved once for all of the batch's sends to it; only when that
        fails (the queue is nearly full) is it reserved send by send, so that each send still
        fits whole or fails alone. Queues are visited in key order, with the batch's deferred
        counter changes (see batcher.py).
        """
        results: list[Any] = [None] * len(sends)
        planned: dict[int, tuple[QueueRow, list[_Part]]] = {}
        for index, (queue, messages) in enumerate(sends):
            too_large = refuse_size(queue.record.config, messages)
            if too_large is not None:
                results[index] = too_large
                continue
            rows: list[tuple[Any, ...]] = []
            size, receivable = self._message_rows(queue, messages, txn.now_ms, rows)
            planned.setdefault(queue.record.key, (queue, []))[1].append(
                (index, rows, size, receivable)
            )
        all_rows: list[tuple[Any, ...]] = []
        partitions: dict[int, int] = {}
        wake: Wake = {}
        for key in sorted(planned.keys() | txn.adjustments.keys()):
            await self._apply_adjustment(txn, key)
            if key not in planned:
                continue
            queue, parts = planned[key]
            try:
                accepted, partition = await self._fit(txn, queue, parts, results)
            except QueueNotFound as error:
                for part in parts:
                    results[part[0]] = error
                continue
            if partition is not None and partition != queue.partition:
                partitions[queue.partition] = partition  # purged since it was cached
            for _, rows, _, receivable in accepted:
                all_rows.extend(rows)
                if receivable:
                    wake.setdefault(key, []).extend(receivable)
        await self._insert_messages(txn, all_rows, partitions, wake)
        return results

    async def _fit(
        self, txn: Txn, queue: QueueRow, parts: list[_Part], results: list[Any]
    ) -> tuple[list[_Part], int | None]:
        """The sends that fit in the queue, and its current partition."""
        if len(parts) > 1:
            count = sum(len(rows) for _, rows, _, _ in parts)
            reserved = await self._reserve(txn, queue, count, sum(part[2] for part in parts))
            if isinstance(reserved, int):
                return parts, reserved
        accepted = []
        partition = None
        for part in parts:
            reserved = await self._reserve(txn, queue, len(part[1]), part[2])
            if isinstance(reserved, int):
                accepted.append(part)
                partition = reserved
            else:
                results[part[0]] = reserved
        return accepted, partition

    async def receive(self, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        if self._batcher is None:
            raise RuntimeError("store is not open")
        queue = await self._cached_queue(queue_hash)
        result: ReceiveResult = await self._batcher.submit_grouped(
            self._receive_all, (queue, request), phase=RECEIVES
        )
        return result

    async def _receive_all(
        self, txn: Txn, receives: list[tuple[QueueRow, ReceiveRequest]]
    ) -> list[Any]:
        """The batch's receives: one claiming statement per queue (and correlation id and
        visibility timeout), its messages dealt out to the receivers in turn."""
        groups: dict[tuple[int, str | None, int], list[int]] = {}
        results: list[Any] = [None] * len(receives)
        for index, (queue, request) in enumerate(receives):
            config = queue.record.config
            if config.fifo is not None:
                results[index] = await self._receive_fifo(txn, queue, request)
                continue
            timeout = (
                config.visibility_timeout
                if request.visibility_timeout is None
                else request.visibility_timeout
            )
            group = (queue.record.key, request.correlation_id, timeout)
            groups.setdefault(group, []).append(index)
        for (_, correlation_id, timeout), members in groups.items():
            queue = receives[members[0]][0]
            wanted = [receives[i][1].max_messages for i in members]
            claimed, moved, next_visible = await self._claim(
                txn, queue, correlation_id, timeout, sum(wanted)
            )
            start = 0
            for position, (index, count) in enumerate(zip(members, wanted, strict=True)):
                mine = claimed[start : start + count]
                start += count
                results[index] = ReceiveResult(
                    queue.record.key,
                    mine,
                    None if mine else next_visible,
                    dead_lettered=moved if position == 0 else 0,
                )
        return results

    async def _claim(
        self,
        txn: Txn,
        queue: QueueRow,
        correlation_id: str | None,
        visibility_seconds: int,
        limit: int,
    ) -> tuple[list[StoredMessage], int, int | None]:
        """Claim up to ``limit`` messages: (them, how many were dead-lettered instead, and
        when the next becomes visible if too few were claimed)."""
        conn, now, key = txn.conn, txn.now_ms, queue.record.key
        config = queue.record.config
        visible_at = now + visibility_seconds * 1000
        cutoff = now - config.retention_seconds * 1000
        dead_letter = config.dead_letter
        dl_key = queue.dead_letter_key if dead_letter is not None else None
        max_receives = dead_letter.max_receives if dead_letter is not None else None
        claimed: list[tuple[int, StoredMessage]] = []
        moved_correlations: list[str | None] = []
        moved_bytes = 0
        while len(claimed) < limit:
            args = (key, now, cutoff, limit - len(claimed), visible_at, dl_key, max_receives)
            if correlation_id is None:
                rows = await conn.fetch(Q["receive"], *args)
            else:
                rows = await conn.fetch(Q["receive_correlated"], *args, correlation_id)
            moved = 0
            for row in map(ClaimedColumns._make, rows):
                if row.moved_size is not None:
                    moved += 1
                    moved_bytes += row.moved_size
                    moved_correlations.append(row.correlation_id)
                else:
                    message = stored_message(row, visible_at, self._cipher)
                    assert row.was_visible_at is not None  # set on every claimed row
                    claimed.append((row.was_visible_at, message))
            if not moved:
                break
        if moved_correlations and dl_key is not None:
            # the messages, and the room they take, go to the dead-letter queue
            count = len(moved_correlations)
            txn.adjust(key, -count, -moved_bytes)
            txn.adjust(dl_key, count, moved_bytes)
            txn.after_commit(lambda: self._wake({dl_key: moved_correlations}))
        claimed.sort(key=lambda pair: (pair[0], pair[1].seq))
        next_visible = None
        if len(claimed) < limit:
            if correlation_id is None:
                next_visible = await conn.fetchval(Q["next_visible"], key, now)
            else:
                next_visible = await conn.fetchval(
                    Q["next_visible_correlated"], key, now, correlation_id
                )
        return [m for _, m in claimed], len(moved_correlations), next_visible

    async def delete_messages(
        self, queue_hash: bytes, receipts: Sequence[Receipt]
    ) -> list[Outcome]:
        if self._batcher is None:
            raise RuntimeError("store is not open")
        key = (await self._cached_queue(queue_hash)).record.key
        outcomes: list[Outcome] = await self._batcher.submit_grouped(
            self._delete_all, (key, receipts), phase=DELETES
        )
        return outcomes

    async def _delete_all(
        self, txn: Txn, deletes: list[tuple[int, Sequence[Receipt]]]
    ) -> list[Any]:
        """The batch's deletes in one statement, answered as if made one after the other."""
        entries = [(key, receipt) for key, receipts in deletes for receipt in receipts]
        mine = [r for key, r in entries if r.queue_key == key]
        done: set[tuple[int, int, int]] = set()
        if mine:
            rows = await txn.conn.fetch(
                Q["delete_receipts"],
                [r.queue_key for r in mine], [r.seq for r in mine],
                [r.receive_count for r in mine],
            )  # fmt: skip
            for key, seq, count, size in rows:
                done.add((key, seq, count))
                txn.adjust(key, -1, -size)
        outcomes = await _outcomes(txn.conn, entries, done)
        results: list[Any] = []
        start = 0
        for _, receipts in deletes:
            results.append(outcomes[start : start + len(receipts)])
            start += len(receipts)
        return results

    async def change_visibility(
        self, queue_hash: bytes, changes: Sequence[tuple[Receipt, int]]
    ) -> list[Outcome]:
        key = (await self._cached_queue(queue_hash)).record.key

        async def operation(txn: Txn) -> list[Outcome]:
            # the last change of a message wins, as if they were made one after the other
            latest = {r.seq: (r, timeout) for r, timeout in changes if r.queue_key == key}
            changed: set[tuple[int, int, int]] = set()
            if latest:
                rows = await txn.conn.fetch(
                    Q["change_visibility_receipts"],
                    key,
                    [r.seq for r, _ in latest.values()],
                    [r.receive_count for r, _ in latest.values()],
                    [txn.now_ms + timeout * 1000 for _, timeout in latest.values()],
                )
                changed = {(queue_key, seq, count) for queue_key, seq, count in rows}
            released = sum(1 for _, seq, _ in changed if latest[seq][1] == 0)
            if released:
                txn.after_commit(lambda: self._wake({key: [None] * released}))
            entries = [(key, r) for r, _ in changes]
            return await _outcomes(txn.conn, entries, changed, repeat=True)

        return await self._write(operation, savepoint=False)

    async def peek(self, queue_hash: bytes, *, after: int | None, limit: int) -> PeekResult:
        async def query(conn: Conn) -> PeekResult:
            queue = await lookup_queue(conn, queue_hash)
            cutoff = self.clock.now_ms() - queue.record.config.retention_seconds * 1000
            rows = await conn.fetch(Q["peek"], queue.partition, after or 0, cutoff, limit)
            messages = [
                stored_message(row, row.visible_at, self._cipher, group_id=row.group_id)
                for row in map(PlacedMessageColumns._make, rows)
            ]
            next_after = messages[-1].seq if len(messages) == limit else None
            return PeekResult(messages, next_after)

        return await self._read(query)


async def _outcomes(
    conn: Conn,
    entries: Sequence[tuple[int, Receipt]],
    done: set[tuple[int, int, int]],
    *,
    repeat: bool = False,
) -> list[Outcome]:
    """:func:`ems.core.outcomes.outcomes`, after looking up the messages that decide them."""
    missing = unmatched(entries, done)
    present: set[tuple[int, int]] = set()
    if missing:
        rows = await conn.fetch(
            Q["messages_in_queues"], [k for k, _ in missing], [seq for _, seq in missing]
        )
        present = {(key, seq) for key, seq in rows}
    return decide(entries, done, present, repeat=repeat)
