"""How the SQLite store commits a batch: statements on the event loop, COMMIT on a thread.

The batching itself (submissions, futures, batch boundaries, post-commit effects) is the shared
engine's (:mod:`ems.storage.engine.group_commit`). This module runs a batch: it opens a
transaction, runs every operation of the batch on the event loop (at once, in the callback that
starts the batch), and hands the COMMIT (the fsync) to a committer thread. While that thread
waits on the disk, new operations queue up for the next batch.

Why the statements run on the event loop: SQLite work is short, C-level and, batched, costs a
few microseconds per operation, but every ``sqlite3`` call releases and re-takes the GIL. A
writer *thread* running those calls competes with the loop for the GIL dozens of times per batch
and serializes with it; here the only hand-off per batch is the COMMIT, which spends its time in
fsync with the GIL released.

Each operation runs inside its own SAVEPOINT, so a failing operation changes nothing and does not
disturb the others. Grouped operations (see :meth:`GroupCommitWriter.submit_grouped`) run many
submissions in one call instead, inside one savepoint; if that call raises, its submissions run
again one by one, each in its own savepoint, so that only the culprit fails
(:func:`~ems.storage.engine.group_commit.each_alone`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from ems.core.clock import Clock
from ems.core.errors import EmsError, StorageFull, StorageUnavailable
from ems.storage.engine import group_commit
from ems.storage.engine.group_commit import (
    Committed,
    GroupCommit,
    Isolated,
    Outcome,
    Submitted,
    each_alone,
    failed,
    group_outcomes,
)
from ems.storage.health import DISK_FULL, StorageHealth
from ems.storage.sqlite.committer import Committer
from ems.storage.sqlite.sharing import WriteLock
from ems.storage.sqlite.statements import SqliteStatements

T = TypeVar("T")
log = logging.getLogger("ems.storage.sqlite")

# bounds the work (and the latency) of one transaction under extreme load
MAX_BATCH_OPERATIONS = 4096


@dataclass(slots=True)
class Txn(group_commit.Txn[sqlite3.Connection]):
    @property
    def db(self) -> SqliteStatements:
        """The connection's named statements, for the operations shared by every driver."""
        return SqliteStatements(self.conn)


Operation = Callable[[Txn], T]
# Runs many submissions of one kind at once (e.g. all sends of a batch in one executemany).
# It returns one result or exception per payload and must leave no partial write behind for
# a payload it fails: it validates everything before it writes.
GroupOperation = Callable[[Txn, list[Any]], list[Any]]


class GroupCommitWriter(GroupCommit):
    def __init__(
        self,
        conn: sqlite3.Connection,
        clock: Clock,
        health: StorageHealth | None = None,
        *,
        on_disk_full: Callable[[], None] | None = None,
        write_lock: WriteLock | None = None,
    ) -> None:
        super().__init__(max_operations=MAX_BATCH_OPERATIONS)
        self.conn = conn
        # workers sharing the file take this around each transaction (see sharing.py)
        self._write_lock = write_lock
        self._clock = clock
        self._health = health or StorageHealth()
        self._on_disk_full = on_disk_full
        self._committer = Committer(conn)

    def start(self) -> None:
        self._committer.start()

    def submit(self, operation: Operation[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        """Run ``operation`` in the next batch, inside its own savepoint.

        ``savepoint=False`` is for operations that raise only before their first write: they
        save two statements, which matters on the receive and delete paths.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return self.put(Submitted(operation, future, savepoint=savepoint))

    def submit_grouped(self, group: GroupOperation, payload: Any) -> asyncio.Future[Any]:
        """Run ``payload`` with neighbouring submissions of the same ``group`` in one call."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        return self.put(Submitted(None, future, group, payload))

    async def stop(self) -> None:
        """Commit everything already submitted, then stop."""
        await super().stop()
        await asyncio.to_thread(self._committer.stop)

    def _start(self, batch: list[Submitted]) -> None:
        started = time.perf_counter()
        lock = self._write_lock
        if lock is not None and not lock.try_lock():
            self._task = asyncio.get_running_loop().create_task(
                self._wait_for_lock(batch, started, lock)
            )
            return
        self._begin(batch, started, lock)

    async def _wait_for_lock(self, batch: list[Submitted], started: float, lock: WriteLock) -> None:
        # another worker is writing: wait in the committer thread, so the loop serves on
        try:
            await asyncio.wrap_future(self._committer.run(lock.acquire))
        except OSError as error:
            log.error("could not take the write lock (%s); writes answered with 503", error)
            self._done(batch, Committed([], failed(batch, StorageUnavailable())), started)
            return
        self._begin(batch, started, lock)

    def _begin(self, batch: list[Submitted], started: float, lock: WriteLock | None) -> None:
        """Run the batch's statements now, then hand its COMMIT to the committer thread; the
        outcome comes back to the loop as one callback (no task, no extra turn of the loop)."""
        txn = Txn(self.conn, self._clock.now_ms())
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            outcomes = self._run_batch(txn, batch)
        except Exception as error:
            if not self._report(error):
                log.exception(
                    "a write transaction failed; %d operations answered with 503", len(batch)
                )
            self._rollback()
            if lock is not None:
                lock.release()
            self._done(batch, Committed([], failed(batch, self._refusal(error))), started)
            return
        loop = asyncio.get_running_loop()
        # the lock is given back in the thread right after COMMIT: the others wait less
        self._committer.commit(unlock=lock).add_done_callback(
            lambda done: loop.call_soon_threadsafe(
                self._committed, done, txn, batch, outcomes, started
            )
        )

    def _committed(
        self,
        done: ThreadFuture[None],
        txn: Txn,
        batch: list[Submitted],
        outcomes: list[Outcome],
        started: float,
    ) -> None:
        error = done.exception()
        if error is None:
            self._done(batch, Committed(txn.effects, outcomes), started)
            return
        if not self._report(error):
            log.error("COMMIT failed (%s); %d operations answered with 503", error, len(batch))
        self._rollback()
        self._done(batch, Committed([], failed(batch, self._refusal(error))), started)

    def _report(self, error: BaseException) -> bool:
        """Tell the store's health about a failure outside the requests; True if it was one
        (the health log says it once per outage, so the caller need not log it again)."""
        if not _disk_full(error):
            return False
        self._health.failed(DISK_FULL, f"the disk holding the SQLite database is full ({error})")
        if self._on_disk_full is not None:
            self._on_disk_full()
        return True

    @staticmethod
    def _refusal(error: BaseException) -> StorageUnavailable:
        return StorageFull() if _disk_full(error) else StorageUnavailable()

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("ROLLBACK failed")

    def _run_batch(self, txn: Txn, batch: list[Submitted]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        i = 0
        while i < len(batch):
            item = batch[i]
            if item.group is None:
                outcomes.append(_run_operation(txn, item))
                i += 1
                continue
            # consecutive submissions of one group run together; their order with other
            # operations is kept, so each sees the effects of those before it
            j = i + 1
            while j < len(batch) and batch[j].group == item.group:
                j += 1
            run = batch[i:j]
            results = each_alone(
                partial(_in_savepoint, txn, item.group), [s.payload for s in run], _answer
            )
            outcomes += group_outcomes(run, results)
            i = j
        return outcomes


def _in_savepoint(txn: Txn, group: GroupOperation, payloads: list[Any]) -> list[Any]:
    """The group's results, or raise Isolated after undoing all of it."""
    conn = txn.conn
    mark = len(txn.effects)
    conn.execute("SAVEPOINT grouped")
    try:
        results = group(txn, payloads)
    except Exception as error:
        if not conn.in_transaction:
            raise  # SQLite rolled the whole transaction back: the batch fails as one
        conn.execute("ROLLBACK TO grouped")
        conn.execute("RELEASE grouped")
        del txn.effects[mark:]
        txn.memo.clear()
        raise Isolated(error) from None
    conn.execute("RELEASE grouped")
    return results


def _answer(cause: Exception) -> Exception:
    """What a request whose grouped write failed is told (a bug is logged, with its traceback)."""
    if _disk_full(cause):
        return StorageFull()
    log.error("a write failed; rolled back to its savepoint", exc_info=cause)
    if isinstance(cause, sqlite3.OperationalError):
        return StorageUnavailable()
    return cause


def _run_operation(txn: Txn, item: Submitted) -> Outcome:
    operation: Operation[Any] = item.operation
    conn = txn.conn
    mark = len(txn.effects)
    if item.savepoint:
        conn.execute("SAVEPOINT op")
    try:
        result = operation(txn)
    except Exception as error:
        if not conn.in_transaction:
            # SQLite rolled the whole transaction back (disk full, I/O error): fail the
            # batch as one
            raise
        if item.savepoint:
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
        elif not isinstance(error, EmsError):
            raise  # it may have written part of its work: the batch fails as one
        del txn.effects[mark:]
        if isinstance(error, EmsError):
            return item.future, None, error
        if _disk_full(error):
            return item.future, None, StorageFull()
        log.exception("operation failed; rolled back to its savepoint")
        if isinstance(error, sqlite3.OperationalError):
            return item.future, None, StorageUnavailable()
        return item.future, None, error
    if item.savepoint:
        conn.execute("RELEASE op")
    return item.future, result, None


def _disk_full(error: BaseException) -> bool:
    """SQLite could not write for want of space (ENOSPC, a quota, a file-size limit)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.Error) and code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    )
