"""FIFO receives in the PostgreSQL store: the rules of :mod:`ems.core.fifo`, held by the database.

Several nodes receive from one queue at once, so reading what a group may deliver and claiming
it must not interleave with another node doing the same: a receive takes a transaction-scoped
advisory lock per group (``pg_try_advisory_xact_lock``; a group another transaction holds is
skipped, not waited for) and reads the group again under it. The lock is released only after the
claim committed, so the next receive of the group, on any node, sees the head in flight and
withholds the rest.
"""

from __future__ import annotations

import hashlib

from ems.core.fifo import SCAN_LIMIT, Waiting, plan_receive
from ems.core.models import ReceiveRequest, ReceiveResult, StoredMessage
from ems.storage.postgres.base import PostgresBase
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import FifoMessageColumns, QueueRow, receive_times, stored_message


class FifoReceives(PostgresBase):
    async def _receive_fifo(
        self, txn: Txn, queue: QueueRow, request: ReceiveRequest
    ) -> ReceiveResult:
        conn, now, key = txn.conn, txn.now_ms, queue.record.key
        config = queue.record.config
        visible_at, cutoff = receive_times(config, request, now)
        dead_letter = config.dead_letter
        dl_key = queue.dead_letter_key if dead_letter is not None else None
        max_receives = dead_letter.max_receives if dead_letter is not None else None
        candidates = await conn.fetch(Q["fifo_receivable"], key, now, cutoff, SCAN_LIMIT)
        # the groups in the order core.fifo takes them (all its candidates are receivable), each
        # then read again under its lock
        planned = plan_receive([Waiting(r[0], r[1], True) for r in candidates], SCAN_LIMIT)
        group_of = {r[0]: r[1] for r in candidates}
        groups = list(dict.fromkeys(group_of[seq] for seq in planned))
        claimed: list[StoredMessage] = []
        moved: list[FifoMessageColumns] = []
        for group in groups:
            if len(claimed) >= request.max_messages:
                break
            if not await conn.fetchval(Q["lock_fifo_group"], *_lock_key(key, group)):
                continue  # another receive is deciding this group
            while len(claimed) < request.max_messages:
                wanted = request.max_messages - len(claimed)
                rows = [
                    FifoMessageColumns._make(row)
                    for row in await conn.fetch(
                        Q["fifo_group_receivable"], key, group, now, cutoff, wanted
                    )
                ]
                over = [
                    row
                    for row in rows
                    if dl_key is not None
                    and max_receives is not None
                    and row.receive_count >= max_receives
                ]
                taken = [
                    stored_message(row, visible_at, self._cipher, received_at=now, group_id=group)
                    for row in rows
                    if row not in over
                ]
                if taken:
                    await conn.execute(Q["fifo_claim"], visible_at, now, [m.seq for m in taken])
                    claimed += taken
                if not over:
                    break
                # to the (FIFO) dead-letter queue: the group moves on to its next message
                await conn.execute(
                    Q["fifo_dead_letter_move"], dl_key, now, key, [row.seq for row in over]
                )
                moved += over
        if moved and dl_key is not None:
            count, size = len(moved), sum(len(row.body) for row in moved)
            correlations = [row.correlation_id for row in moved]
            txn.adjust(key, -count, -size)
            txn.adjust(dl_key, count, size)
            txn.after_commit(lambda: self._wake({dl_key: correlations}))
        next_visible = None
        if not claimed:
            next_visible = await conn.fetchval(Q["next_visible"], key, now)
        return ReceiveResult(key, claimed, next_visible, dead_lettered=len(moved))


def _lock_key(queue_key: int, group_id: str) -> tuple[int, int]:
    """Two signed 32-bit numbers naming a queue's group (the two-key advisory lock space, apart
    from the single-key locks EMS takes elsewhere)."""
    digest = hashlib.blake2b(f"{queue_key}/{group_id}".encode(), digest_size=8).digest()
    return (
        int.from_bytes(digest[:4], "big", signed=True),
        int.from_bytes(digest[4:], "big", signed=True),
    )
