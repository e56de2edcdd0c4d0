"""Group commit, once for every driver: the writes of a process share a few transactions.

Requests submit *operations* (functions of a :class:`Txn`). When no batch is running, the engine
takes everything submitted so far (at most ``max_operations``) and hands it to the driver, which
runs it in one transaction and commits: :meth:`GroupCommit.commit_batch` (a coroutine, for a
driver whose statements wait), or :meth:`GroupCommit._start` (for one that runs the statements at
once and only waits for the commit, handing back the outcome with :meth:`GroupCommit._done`).
While that batch runs and commits, new submissions queue up for the next one: under load
batches grow by themselves, and an idle server answers a lone request after a single commit.

The engine owns the queue of submissions, their futures, the batch boundaries, the effects that
may only happen once data is durable (:meth:`Txn.after_commit`: waking long polls, invalidating
caches, run before the results are delivered), shutdown and the commit statistics. A driver owns
how a batch runs: its statements, its savepoints, and how it isolates a failing request from the
others it was grouped with (:func:`each_alone`, or a batch run again one operation at a time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ems.core.errors import ShuttingDown, StorageUnavailable

C = TypeVar("C")
P = TypeVar("P")
R = TypeVar("R")
log = logging.getLogger("ems.storage")


@dataclass(slots=True)
class Txn(Generic[C]):
    """What an operation sees: the connection inside an open transaction, and the batch's time."""

    conn: C
    now_ms: int
    effects: list[Callable[[], None]] = field(default_factory=list)
    # lookups that many operations of one batch repeat; an operation that changes what was
    # memoized must clear it
    memo: dict[Any, Any] = field(default_factory=dict)

    def after_commit(self, effect: Callable[[], None]) -> None:
        self.effects.append(effect)

    def forget_counters(self, queue_key: int) -> None:
        """A driver that defers counter changes to the batch's end drops the queue's here."""


@dataclass(slots=True)
class Submitted:
    """One request waiting for its batch: a single operation, or a payload of a group."""

    operation: Any  # the driver's Operation (a function of its Txn); None for a grouped payload
    future: asyncio.Future[Any]
    group: Any = None  # the driver's GroupOperation: runs many payloads of one kind at once
    payload: Any = None
    # run inside a savepoint of its own (False: the operation raises only before it writes)
    savepoint: bool = True
    # groups run in phase order (a driver that runs groups after single operations)
    phase: int = 0


# a request's answer: its future, and its result or the error to raise
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


@dataclass(slots=True)
class Committed:
    """What a batch gave: effects to run now that it is durable, and every request's outcome."""

    effects: list[Callable[[], None]]
    outcomes: list[Outcome]
    # the database was found unavailable: the requests waiting behind this batch are answered
    # 503 at once rather than run later, when their clients may long have retried
    unavailable: bool = False


def failed(batch: list[Submitted], error: BaseException) -> list[Outcome]:
    return [(item.future, None, error) for item in batch]


def group_outcomes(run: list[Submitted], results: list[Any]) -> list[Outcome]:
    """A group's results (one result or exception per payload) as its requests' outcomes."""
    return [
        (submitted.future, None, result)
        if isinstance(result, BaseException)
        else (submitted.future, result, None)
        for submitted, result in zip(run, results, strict=True)
    ]


class Isolated(Exception):
    """Raised by a driver's ``run`` for :func:`each_alone`: ``cause`` was raised, and the
    work was undone."""

    def __init__(self, cause: Exception) -> None:
        super().__init__()
        self.cause = cause


def each_alone(
    run: Callable[[list[P]], list[R]],
    payloads: list[P],
    answer: Callable[[Exception], BaseException],
) -> list[R | BaseException]:
    """Run ``payloads`` together; if that fails (``run`` undid it and raised :class:`Isolated`),
    run them one by one, so that only the one that fails alone fails (and is told
    ``answer(cause)``): one bad request must not cost its neighbours their writes."""
    try:
        return list(run(payloads))
    except Isolated as isolated:
        if len(payloads) == 1:
            return [answer(isolated.cause)]
        log.warning(
            "a group of %d writes failed (%s); running them one by one",
            len(payloads),
            type(isolated.cause).__name__,
        )
    results: list[R | BaseException] = []
    for payload in payloads:
        try:
            results.extend(run([payload]))
        except Isolated as isolated:
            results.append(answer(isolated.cause))
    return results


class GroupCommit:
    """The engine; a driver subclasses it with :meth:`commit_batch` or :meth:`_start`."""

    def __init__(self, *, max_operations: int, skip_abandoned: bool = False) -> None:
        # bounds the work (and the latency) of one transaction under extreme load
        self._max_operations = max_operations
        # an operation whose request was abandoned (its future cancelled) before its batch
        # began is never run
        self._skip_abandoned = skip_abandoned
        self._pending: list[Submitted] = []
        self._flush_scheduled = False
        self._running = False
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.operations = 0
        # from BEGIN to the COMMIT, summed over batches: the commit latency writers see
        self.commit_seconds = 0.0

    async def commit_batch(self, batch: list[Submitted]) -> Committed:
        """Run ``batch`` in one transaction and commit it; answer every request (a driver
        never raises here: a failure becomes the outcomes it gives its requests)."""
        raise NotImplementedError

    def _start(self, batch: list[Submitted]) -> None:
        """Run ``batch``, and call :meth:`_done` once it is committed (or failed)."""
        self._task = asyncio.get_running_loop().create_task(self._run(batch))

    @property
    def stats(self) -> tuple[int, int, float]:
        """(transactions, operations, seconds spent committing) so far: the group-commit factor
        is operations per transaction, the commit latency seconds per transaction."""
        return (self.batches, self.operations, self.commit_seconds)

    def put(self, item: Submitted) -> asyncio.Future[Any]:
        if self._stopping:
            item.future.set_exception(ShuttingDown())
            return item.future
        self._pending.append(item)
        self._idle.clear()
        if not self._running and not self._flush_scheduled:
            # let the requests already runnable submit too, so they share this transaction
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return item.future

    async def stop(self) -> None:
        """Commit everything already submitted, then stop."""
        self._stopping = True
        await self._idle.wait()
        log.info(
            "group commit: %d operations in %d transactions (%.1f per commit)",
            self.operations,
            self.batches,
            self.operations / max(self.batches, 1),
        )

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._skip_abandoned and self._pending:
            self._pending = [item for item in self._pending if not item.future.done()]
        if self._running or not self._pending:
            if not self._running:
                self._idle.set()
            return
        batch = self._pending[: self._max_operations]
        del self._pending[: self._max_operations]
        self._running = True
        self._start(batch)

    async def _run(self, batch: list[Submitted]) -> None:
        started = time.perf_counter()
        try:
            committed = await self.commit_batch(batch)
        except BaseException:  # pragma: no cover - commit_batch answers every failure itself
            log.exception("batch failed unexpectedly")
            committed = Committed([], failed(batch, StorageUnavailable()))
        self._done(batch, committed, started)

    def _done(self, batch: list[Submitted], committed: Committed, started: float) -> None:
        """A batch begun at ``started`` (``time.perf_counter()``) is over: answer it, and start
        the next."""
        self._running = False
        self.batches += 1
        self.operations += len(batch)
        self.commit_seconds += time.perf_counter() - started
        outcomes = committed.outcomes
        if committed.unavailable and self._pending:
            outcomes += failed(self._pending, StorageUnavailable())
            self._pending = []
        _finish(committed.effects, outcomes)
        if self._pending:
            self._flush()
        else:
            self._idle.set()


def _finish(effects: list[Callable[[], None]], outcomes: list[Outcome]) -> None:
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
