"""Sweeping in the PostgreSQL store: retired partitions, expired messages, dead rows.

Every node runs the sweeper; a transaction-level advisory lock lets one at a time do the work
(the lock ends with the transaction, or with the connection of a node that dies mid-sweep).

Queue tables churn: every message is inserted, updated on each receive and deleted, and only
VACUUM makes the dead rows' space reusable. That is autovacuum's job, but some installations turn
it off; then EMS vacuums its own tables when dead rows pile up, so they do not grow without bound.
"""

from __future__ import annotations

import logging
import time

from ems.core.models import SweepReport
from ems.storage.postgres.base import (
    RETENTION_QUEUES_PER_SWEEP,
    SWEEP_BUDGET,
    Conn,
    PostgresBase,
)
from ems.storage.postgres.queries import QUERIES as Q

log = logging.getLogger("ems.storage")

VACUUM_CHECK_SECONDS = 30.0
# a VACUUM of a large table takes as long as it takes: it is not bounded by the store's timeout
# (a request's), only by this, and by the store dropping its connections in an outage
VACUUM_LIMIT_SECONDS = 6 * 3600.0
# vacuum a table when it has this many dead rows, and more than a fifth of its live rows
VACUUM_MIN_DEAD_ROWS = 10_000


class Housekeeping(PostgresBase):
    async def sweep(self) -> SweepReport:
        async def work(conn: Conn) -> SweepReport:
            async with conn.transaction():
                if not await conn.fetchval(Q["try_sweep_lock"], self.schema):
                    return SweepReport()  # another node is sweeping
                return await self._sweep(conn)

        report = await self._read(work)
        if time.monotonic() >= self._vacuum_due:
            self._vacuum_due = time.monotonic() + VACUUM_CHECK_SECONDS
            await self._read(self._vacuum_if_autovacuum_is_off, limit=VACUUM_LIMIT_SECONDS)
        return report

    async def _vacuum_if_autovacuum_is_off(self, conn: Conn) -> None:
        tables = await conn.fetch(Q["tables_to_vacuum"], self.schema, VACUUM_MIN_DEAD_ROWS)
        if not tables or not await conn.fetchval(Q["try_vacuum_lock"], self.schema):
            return
        try:
            for table, dead in tables:
                started = time.monotonic()
                # VACUUM takes no parameters; both names are EMS's own (checked identifiers)
                await conn.execute(f'VACUUM "{self.schema}"."{table}"')
                log.info(
                    "autovacuum is off: vacuumed %s (%d dead rows) in %.1f s",
                    table,
                    dead,
                    time.monotonic() - started,
                )
        finally:
            await conn.execute(Q["vacuum_unlock"], self.schema)

    async def _sweep(self, conn: Conn) -> SweepReport:
        now = self.clock.now_ms()
        budget = SWEEP_BUDGET
        dropped = 0
        for (partition,) in await conn.fetch(Q["retired_partitions"], 8):
            removed = await conn.fetchval(Q["delete_partition_chunk"], partition, budget)
            dropped += removed
            budget -= removed
            if budget <= 0:
                return SweepReport(dropped=dropped, more=True)
            await conn.execute(Q["forget_partition"], partition)
        # idempotency keys past their window (see ems.core.idempotency): no counters to adjust
        budget -= await conn.fetchval(Q["delete_expired_idempotency_keys"], now, budget)
        if budget <= 0:
            return SweepReport(dropped=dropped, more=True)
        expired = 0
        # room freed is given back at the end, in key order, as batches do (see batcher.py)
        released: dict[int, tuple[int, int]] = {}
        more = False
        queues = await conn.fetch(
            Q["queues_for_retention"], self._retention_cursor, RETENTION_QUEUES_PER_SWEEP
        )
        for key, partition, retention in queues:
            self._retention_cursor = key
            cutoff = now - retention * 1000
            oldest = await conn.fetchval(Q["oldest_sent_at"], partition)
            if oldest is None or oldest > cutoff:
                continue
            sizes = await conn.fetch(Q["delete_expired_chunk"], partition, budget, cutoff)
            released[key] = (len(sizes), sum(size for (size,) in sizes))
            expired += len(sizes)
            budget -= len(sizes)
            if budget <= 0:
                more = True
                break
        else:
            if len(queues) < RETENTION_QUEUES_PER_SWEEP:
                self._retention_cursor = 0
        for key in sorted(released):
            count, size = released[key]
            await conn.execute(Q["adjust_storage"], -count, -size, key)
        return SweepReport(expired=expired, dropped=dropped, more=more)
