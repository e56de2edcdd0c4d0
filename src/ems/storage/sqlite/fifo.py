"""FIFO receives in the SQLite store: the rules of :mod:`ems.core.fifo`, run in the writer.

One writer runs every receive, so reading what may be taken and claiming it in the same
transaction is enough for the one-in-flight-per-group rule; the statements only find, for each
group, the messages no earlier message of the group holds back.

Two ways to find them. A queue with many groups is walked in send order from its oldest message
(``fifo_receivable``), past the messages of groups held back: few of those come before a free
group's. A queue with few groups (up to :data:`FEW_GROUPS`, counted by a skip-scan of the group
index) is read group by group instead (``fifo_group_head``): there, most of the queue may
belong to groups held back, and an empty receive (most of them, when consumers outnumber the
groups) would otherwise walk all of it.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from ems.core.fifo import SCAN_LIMIT, Waiting, plan_receive
from ems.core.models import ReceiveRequest, ReceiveResult, StoredMessage
from ems.storage.rows import FifoMessageColumns, QueueRow, receive_times, stored_message
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn

# a queue with at most this many groups is read group by group
FEW_GROUPS: Final = 32
# how long a queue found with more groups is walked without counting them again
MANY_GROUPS_FOR_MS: Final = 1000
MANY_GROUPS_REMEMBERED: Final = 10_000


def _receivable(
    conn: sqlite3.Connection, partition: int, now: int, cutoff: int, wanted: int, *, many: bool
) -> tuple[list[FifoMessageColumns], bool]:
    """Rows that a receive of ``wanted`` messages may take, in send order: each visible,
    unexpired, and with nothing before it in its group in flight or delayed; enough of them for
    :func:`ems.core.fifo.plan_receive` to choose from. And whether the queue was walked as one
    of many groups (``many``: it is known to be, and its groups are not counted again)."""
    if not many:
        groups = [row[0] for row in conn.execute(Q["fifo_groups"], (partition, FEW_GROUPS))]
        if len(groups) <= FEW_GROUPS:
            return _by_group(conn, partition, groups, now, cutoff, wanted), False
    # one message is the first receivable one: the plan needs no others to choose it
    limit = 1 if wanted == 1 else SCAN_LIMIT
    rows = conn.execute(Q["fifo_receivable"], (partition, now, cutoff, limit))
    return list(map(FifoMessageColumns._make, rows)), True


def _by_group(  # noqa: PLR0917 (the receive's parts)
    conn: sqlite3.Connection, partition: int, groups: list[str], now: int, cutoff: int, wanted: int
) -> list[FifoMessageColumns]:
    rows: list[FifoMessageColumns] = []
    for group in groups:  # no plan takes more than ``wanted`` of one group
        head = conn.execute(Q["fifo_group_head"], (partition, group, cutoff, wanted))
        for row in map(FifoMessageColumns._make, head):
            if row.visible_at > now:
                break  # in flight or delayed: the rest of the group waits for it
            rows.append(row)
    rows.sort(key=lambda row: row.seq)
    return rows


class FifoReceives(SqliteBase):
    # partition -> until when (ms) it is taken to have many groups: counting them costs a FIFO
    # receive about as much as the walk itself, and a queue with many groups a moment ago has
    # as many now all but always (with fewer, the walk still answers right, only slower)
    _fifo_many: dict[int, int] | None = None

    def _receive_fifo(self, txn: Txn, queue: QueueRow, request: ReceiveRequest) -> ReceiveResult:
        conn, now = txn.conn, txn.now_ms
        config = queue.record.config
        visible_at, cutoff = receive_times(config, request, now)
        max_receives = (
            config.dead_letter.max_receives
            if config.dead_letter is not None and queue.dead_letter_partition is not None
            else None
        )
        claimed: list[StoredMessage] = []
        moves: list[tuple[Any, ...]] = []
        moved_bytes = 0
        moved_correlations: list[str | None] = []
        while len(claimed) < request.max_messages:
            wanted = request.max_messages - len(claimed)
            known = self._many_groups(queue, now)
            found, many = _receivable(conn, queue.partition, now, cutoff, wanted, many=known)
            if many and not known:  # counted just now: not again for a while
                self._remember_many(queue, now)
            rows = {row.seq: row for row in found}
            planned = plan_receive(
                [Waiting(seq, row.group_id, True) for seq, row in rows.items()], wanted
            )
            taken: list[StoredMessage] = []
            over: list[tuple[Any, ...]] = []
            for seq in planned:
                row = rows[seq]
                if max_receives is not None and row.receive_count >= max_receives:
                    over.append((queue.dead_letter_partition, now, queue.record.key, seq))
                    moved_bytes += len(row.body)
                    moved_correlations.append(row.correlation_id)
                    continue
                taken.append(
                    stored_message(
                        row, visible_at, self._cipher, received_at=now, group_id=row.group_id
                    )
                )
            conn.executemany(Q["claim"], [(visible_at, now, m.seq) for m in taken])
            claimed += taken
            if not over:
                break
            # to the dead-letter queue (which is FIFO too): their groups move on; plan again
            conn.executemany(Q["dead_letter_move"], over)
            moves += over
        if moves:
            self._dead_lettered(txn, queue, moved_bytes, moved_correlations)
        next_visible = None
        if not claimed:
            (next_visible,) = conn.execute(Q["next_visible"], (queue.partition, now)).fetchone()
        return ReceiveResult(queue.record.key, claimed, next_visible, dead_lettered=len(moves))

    def _many_groups(self, queue: QueueRow, now: int) -> bool:
        return self._fifo_many is not None and self._fifo_many.get(queue.partition, 0) > now

    def _remember_many(self, queue: QueueRow, now: int) -> None:
        if self._fifo_many is None or len(self._fifo_many) > MANY_GROUPS_REMEMBERED:
            self._fifo_many = {}  # deleted queues' entries go too
        self._fifo_many[queue.partition] = now + MANY_GROUPS_FOR_MS

    def _dead_lettered(
        self, txn: Txn, queue: QueueRow, moved_bytes: int, correlations: list[str | None]
    ) -> None:
        """Move the room the dead-lettered messages take, and wake the dead-letter queue."""
        dl_key = queue.dead_letter_key
        if dl_key is None:
            return
        moved = len(correlations)
        self._release(txn, queue.record.key, moved, moved_bytes)
        txn.conn.execute(Q["force_storage"], (moved, moved_bytes, dl_key))
        txn.after_commit(lambda: self._wake({dl_key: correlations}))
