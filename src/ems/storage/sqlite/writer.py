"""Group commit: every write of the process shares a few fsync'd transactions.

Requests submit *operations* (functions of a :class:`Txn`). When no commit is in flight, the
writer opens a transaction, runs everything submitted so far on the event loop, and hands the
COMMIT (the fsync) to a committer thread. While that thread waits on the disk, new operations
queue up for the next batch: under load batches grow by themselves, and an idle server answers
a lone request after a single commit.

Why the statements run on the event loop: SQLite work is short, C-level and, batched, costs a
few microseconds per operation, but every ``sqlite3`` call releases and re-takes the GIL. A
writer *thread* running those calls competes with the loop for the GIL dozens of times per batch
and serializes with it; here the only hand-off per batch is the COMMIT, which spends its time in
fsync with the GIL released.

Each operation runs inside its own SAVEPOINT, so a failing operation changes nothing and does not
disturb the others. Grouped operations (see :meth:`submit_grouped`) run many submissions in one
call instead, inside one savepoint; if that call raises, its submissions run again one by one,
each in its own savepoint, so that only the culprit fails. Effects that may only happen once data
is durable (waking long polls, invalidating caches) are registered with :meth:`Txn.after_commit`
and run after the COMMIT, before the results are delivered.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ems.core.clock import Clock
from ems.core.errors import EmsError, ShuttingDown, StorageFull, StorageUnavailable
from ems.storage.health import DISK_FULL, StorageHealth

T = TypeVar("T")
log = logging.getLogger("ems.storage.sqlite")

# bounds the work (and the latency) of one transaction under extreme load
MAX_BATCH_OPERATIONS = 4096


@dataclass(slots=True)
class Txn:
    """What an operation sees: the connection inside an open transaction, and the batch's time."""

    conn: sqlite3.Connection
    now_ms: int
    effects: list[Callable[[], None]] = field(default_factory=list)
    # lookups that many operations of one batch repeat; an operation that changes what was
    # memoized must clear it
    memo: dict[Any, Any] = field(default_factory=dict)

    def after_commit(self, effect: Callable[[], None]) -> None:
        self.effects.append(effect)


Operation = Callable[[Txn], T]
# Runs many submissions of one kind at once (e.g. all sends of a batch in one executemany).
# It returns one result or exception per payload and must leave no partial write behind for
# a payload it fails: it validates everything before it writes.
GroupOperation = Callable[[Txn, list[Any]], list[Any]]


@dataclass(slots=True)
class _Submitted(Generic[T]):
    operation: Operation[T] | None
    future: asyncio.Future[T]
    group: GroupOperation | None = None
    payload: Any = None
    savepoint: bool = True


_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class GroupCommitWriter:
    def __init__(
        self,
        conn: sqlite3.Connection,
        clock: Clock,
        health: StorageHealth | None = None,
        *,
        on_disk_full: Callable[[], None] | None = None,
    ) -> None:
        self.conn = conn
        self._clock = clock
        self._health = health or StorageHealth()
        self._on_disk_full = on_disk_full
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Submitted[Any]] = []
        self._flush_scheduled = False
        self._committing = False
        self._stopping = False
        self._idle = asyncio.Event()
        self._committer = _Committer(conn)
        self.batches = 0
        self.operations = 0
        # from BEGIN to the COMMIT's fsync, summed over batches: the commit latency writers see
        self.commit_seconds = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._idle.set()
        self._committer.start()

    def submit(self, operation: Operation[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        """Run ``operation`` in the next batch, inside its own savepoint.

        ``savepoint=False`` is for operations that raise only before their first write: they
        save two statements, which matters on the receive and delete paths.
        """
        return self._put(_Submitted(operation, self._new_future(), savepoint=savepoint))

    def submit_grouped(self, group: GroupOperation, payload: Any) -> asyncio.Future[Any]:
        """Run ``payload`` with neighbouring submissions of the same ``group`` in one call."""
        return self._put(_Submitted(None, self._new_future(), group, payload))

    def _new_future(self) -> asyncio.Future[Any]:
        assert self._loop is not None, "writer not started"
        return self._loop.create_future()

    def _put(self, item: _Submitted[Any]) -> asyncio.Future[Any]:
        if self._stopping:
            item.future.set_exception(ShuttingDown())
            return item.future
        self._pending.append(item)
        self._idle.clear()
        if not self._committing and not self._flush_scheduled:
            # let the requests already runnable submit too, so they share this transaction
            assert self._loop is not None
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return item.future

    async def stop(self) -> None:
        """Commit everything already submitted, then stop."""
        self._stopping = True
        await self._idle.wait()
        await asyncio.to_thread(self._committer.stop)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._committing or not self._pending:
            return
        batch = self._pending[:MAX_BATCH_OPERATIONS]
        del self._pending[:MAX_BATCH_OPERATIONS]
        txn = Txn(self.conn, self._clock.now_ms())
        started = time.perf_counter()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            outcomes = self._run_batch(txn, batch)
        except Exception as error:
            if not self._report(error):
                log.exception(
                    "a write transaction failed; %d operations answered with 503", len(batch)
                )
            self._rollback()
            self._finish([], _failed(batch, self._refusal(error)))
            return
        self._committing = True
        done = self._committer.commit()
        done.add_done_callback(
            lambda f: self._loop.call_soon_threadsafe(  # type: ignore[union-attr]
                self._committed, f, txn, batch, outcomes, started
            )
        )

    def _committed(
        self,
        done: ThreadFuture[None],
        txn: Txn,
        batch: list[_Submitted[Any]],
        outcomes: list[_Outcome],
        started: float,
    ) -> None:
        self._committing = False
        error = done.exception()
        if error is not None:
            if not self._report(error):
                log.error("COMMIT failed (%s); %d operations answered with 503", error, len(batch))
            self._rollback()
            self._finish([], _failed(batch, self._refusal(error)))
        else:
            self.batches += 1
            self.operations += len(batch)
            self.commit_seconds += time.perf_counter() - started
            self._finish(txn.effects, outcomes)
        if self._pending:
            self._flush()

    def _finish(self, effects: list[Callable[[], None]], outcomes: list[_Outcome]) -> None:
        for effect in effects:
            try:
                effect()
            except Exception:
                log.exception("post-commit effect failed")
        for future, result, error in outcomes:
            if future.done():  # the request was cancelled (client hung up); the work still counts
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        if not self._pending and not self._committing:
            self._idle.set()

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

    def _run_batch(self, txn: Txn, batch: list[_Submitted[Any]]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        i = 0
        while i < len(batch):
            item = batch[i]
            if item.group is None:
                outcomes.append(self._run_operation(txn, item))
                i += 1
                continue
            # consecutive submissions of one group run together; their order with other
            # operations is kept, so each sees the effects of those before it
            j = i + 1
            while j < len(batch) and batch[j].group == item.group:
                j += 1
            run = batch[i:j]
            results = self._run_group(txn, item.group, [s.payload for s in run])
            for submitted, result in zip(run, results, strict=True):
                if isinstance(result, BaseException):
                    outcomes.append((submitted.future, None, result))
                else:
                    outcomes.append((submitted.future, result, None))
            i = j
        return outcomes

    @classmethod
    def _run_group(cls, txn: Txn, group: GroupOperation, payloads: list[Any]) -> list[Any]:
        """Run a group; if it raises, run its payloads one by one, so that only the one that
        fails alone fails (one bad send must not cost its neighbours their writes)."""
        try:
            return cls._in_savepoint(txn, group, payloads)
        except _Failed as failed:
            if len(payloads) == 1:
                return [failed.answer()]
            log.warning(
                "a group of %d writes failed (%s); running them one by one",
                len(payloads),
                type(failed.cause).__name__,
            )
        results = []
        for payload in payloads:
            try:
                results.extend(cls._in_savepoint(txn, group, [payload]))
            except _Failed as failed:
                results.append(failed.answer())
        return results

    @staticmethod
    def _in_savepoint(txn: Txn, group: GroupOperation, payloads: list[Any]) -> list[Any]:
        """The group's results, or raise _Failed with what to answer after undoing all of it."""
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
            raise _Failed(error) from None
        conn.execute("RELEASE grouped")
        return results

    @staticmethod
    def _run_operation(txn: Txn, item: _Submitted[Any]) -> _Outcome:
        assert item.operation is not None
        conn = txn.conn
        mark = len(txn.effects)
        if item.savepoint:
            conn.execute("SAVEPOINT op")
        try:
            result = item.operation(txn)
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


class _Failed(Exception):
    """Grouped writes raised ``cause`` and were undone."""

    def __init__(self, cause: Exception) -> None:
        super().__init__()
        self.cause = cause

    def answer(self) -> Exception:
        """What the failed request is told (a bug is logged, with its traceback, here)."""
        if _disk_full(self.cause):
            return StorageFull()
        log.error("a write failed; rolled back to its savepoint", exc_info=self.cause)
        if isinstance(self.cause, sqlite3.OperationalError):
            return StorageUnavailable()
        return self.cause


def _failed(batch: list[_Submitted[Any]], failure: StorageUnavailable) -> list[_Outcome]:
    return [(item.future, None, failure) for item in batch]


def _disk_full(error: BaseException) -> bool:
    """SQLite could not write for want of space (ENOSPC, a quota, a file-size limit)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.Error) and code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    )


class _Committer:
    """A thread that runs COMMIT, so the event loop keeps serving while the disk syncs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._work: ThreadFuture[None] | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="ems-sqlite-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def commit(self) -> ThreadFuture[None]:
        future: ThreadFuture[None] = ThreadFuture()
        with self._wake:
            self._work = future
            self._wake.notify()
        return future

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._work is None and not self._stopped:
                    self._wake.wait()
                if self._work is None:
                    return
                work, self._work = self._work, None
            try:
                self._conn.execute("COMMIT")
            except BaseException as error:
                work.set_exception(error)
            else:
                work.set_result(None)
