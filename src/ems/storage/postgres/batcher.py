"""Group commit on PostgreSQL: the writes of one node share transactions.

The batching itself (submissions, futures, batch boundaries, post-commit effects) is the shared
engine's (:mod:`ems.storage.engine.group_commit`); this module runs a batch. Operations are
coroutine functions of a :class:`Txn`; while one batch's transaction runs and commits, new
submissions queue up for the next. Every transaction costs round trips and a WAL flush, so
under load one transaction serves hundreds of requests, and concurrent sends become one
``INSERT ... SELECT FROM unnest(...)``.

Lock order. Operations lock message rows (receive, delete) and queue rows (the stored-message
counters). Counter changes are therefore deferred (:meth:`Txn.adjust`) and applied at the end of
the batch in queue-key order, together with the reservations of grouped sends, which run after
every other operation. The sweeper follows the same order, so the common paths of two nodes
cannot deadlock; when rarer operations do, PostgreSQL aborts one transaction and its batch is run
again from the start (operations only touch the database and their :class:`Txn` until commit).

Failures. Operations submitted with ``savepoint=True`` run inside a SAVEPOINT: an error rolls
back that operation alone. The others (the hot paths) must raise :class:`EmsError` only before
their first write. A database error outside a savepoint aborts the transaction: the batch is then
re-run one operation per transaction, so that only the culprit fails. A lost connection fails
the batch with 503 (:class:`StorageUnavailable`): a client that retries may cause a duplicate,
which at-least-once delivery allows.

The database going away. Every transaction is bounded in time by the store's connections (see
availability.py): a batch on a database that hangs fails after the store's timeout, its connection
terminated, so PostgreSQL rolls it back. The operations that waited behind it are then answered
503 at once, without being run: the database was just found unavailable, and running them later,
when their clients may long have given up and retried, would store their sends twice. For the
same reason an operation whose request was abandoned (its future cancelled) before its batch
began is never run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from ems.core.clock import Clock
from ems.core.errors import EmsError, StorageUnavailable
from ems.storage.engine import group_commit
from ems.storage.engine.group_commit import (
    Committed,
    GroupCommit,
    Outcome,
    Submitted,
    failed,
    group_outcomes,
)
from ems.storage.postgres.statements import PostgresStatements

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

T = TypeVar("T")
log = logging.getLogger("ems.storage.postgres")

MAX_BATCH_OPERATIONS = 2048
# a batch that deadlocks is run again; past this it is answered with 503
DEADLOCK_RETRIES = 5

# errors that say the database cannot be reached (or is refusing work) rather than that an
# operation is wrong: retrying the operations alone would fail the same way
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InternalClientError,
    # a primary demoted to a standby (after a failover): the writable server is elsewhere
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)
_RETRY = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
# errors a savepoint does not confine to its operation: the batch fails or runs again
_NOT_THIS_OPERATION: tuple[type[BaseException], ...] = (*UNAVAILABLE, *_RETRY)

Acquire = Callable[[], AbstractAsyncContextManager["PoolConnectionProxy[Any]"]]


@dataclass(slots=True)
class Txn(group_commit.Txn["PoolConnectionProxy[Any]"]):
    """The engine's transaction, with the stored-message counters to settle at its end."""

    # queue key -> [messages, bytes] to add to its stored counters at the end of the batch
    adjustments: dict[int, list[int]] = field(default_factory=dict)

    @property
    def db(self) -> PostgresStatements:
        """The connection's named statements, for the operations shared by every driver."""
        return PostgresStatements(self.conn)

    def forget_counters(self, queue_key: int) -> None:
        self.adjustments.pop(queue_key, None)

    def adjust(self, queue_key: int, count: int, size: int) -> None:
        """Change a queue's stored counters when the batch ends (negative: release room)."""
        if count or size:
            entry = self.adjustments.setdefault(queue_key, [0, 0])
            entry[0] += count
            entry[1] += size


Operation = Callable[[Txn], Awaitable[T]]
# runs many submissions of one kind at once, after all other operations of the batch; returns
# one result or EmsError per payload, and applies the batch's adjustments (see module doc)
GroupOperation = Callable[[Txn, list[Any]], Awaitable[list[Any]]]
# applies what is left of Txn.adjustments, in queue-key order
Settle = Callable[[Txn], Awaitable[None]]


class Batcher(GroupCommit):
    def __init__(self, acquire: Acquire, clock: Clock, settle: Settle) -> None:
        # abandoned before they began (their requests' tasks were cancelled): never run
        super().__init__(max_operations=MAX_BATCH_OPERATIONS, skip_abandoned=True)
        self._acquire = acquire
        self._clock = clock
        self._settle = settle
        # the running batch failed because the database is unavailable
        self._unavailable = False

    def submit(self, operation: Operation[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return self.put(Submitted(operation, future, savepoint=savepoint))

    def submit_grouped(
        self, group: GroupOperation, payload: Any, *, phase: int = 0
    ) -> asyncio.Future[Any]:
        """Run ``payload`` with the batch's other submissions of ``group`` in one call, after
        every single operation and in ``phase`` order with the other groups."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        return self.put(Submitted(None, future, group, payload, savepoint=False, phase=phase))

    async def commit_batch(self, batch: list[Submitted]) -> Committed:
        self._unavailable = False
        effects, outcomes = await self._commit(batch)
        return Committed(effects, outcomes, unavailable=self._unavailable)

    async def _commit(
        self, batch: list[Submitted]
    ) -> tuple[list[Callable[[], None]], list[Outcome]]:
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return await self._transaction(batch)
            except _RETRY as error:
                log.info("batch rolled back (%s); attempt %d", type(error).__name__, attempt + 1)
                await asyncio.sleep(0.001 * 2**attempt)
            except UNAVAILABLE as error:
                # the store's health logs the outage once; this would log it per batch
                log.debug(
                    "database unavailable (%s); %d operations answered with 503",
                    _describe(error),
                    len(batch),
                )
                self._unavailable = True
                return [], failed(batch, StorageUnavailable())
            except Exception as error:
                if len(batch) == 1:
                    log_failure("a write transaction failed; answered with 503", error)
                    return [], failed(batch, StorageUnavailable())
                log.warning("a batch of %d failed; running its operations alone", len(batch))
                return await self._one_by_one(batch)
        return [], failed(batch, StorageUnavailable())

    async def _one_by_one(
        self, batch: list[Submitted]
    ) -> tuple[list[Callable[[], None]], list[Outcome]]:
        effects: list[Callable[[], None]] = []
        outcomes: list[Outcome] = []
        for index, item in enumerate(batch):
            if self._unavailable:  # the database went away meanwhile: the rest waits no longer
                outcomes += failed(batch[index:], StorageUnavailable())
                break
            more_effects, more_outcomes = await self._commit([item])
            effects += more_effects
            outcomes += more_outcomes
        return effects, outcomes

    async def _transaction(
        self, batch: list[Submitted]
    ) -> tuple[list[Callable[[], None]], list[Outcome]]:
        async with self._acquire() as conn, conn.transaction():
            txn = Txn(conn, self._clock.now_ms())
            outcomes = await self._run_batch(txn, batch)
        return txn.effects, outcomes

    async def _run_batch(self, txn: Txn, batch: list[Submitted]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        groups: dict[tuple[int, GroupOperation], list[Submitted]] = {}
        for item in batch:
            if item.group is None:
                outcomes.append(await _run_operation(txn, item))
            else:
                groups.setdefault((item.phase, item.group), []).append(item)
        # grouped operations come last, sends last of all: they lock queue rows, in key order
        for (_, group), run in sorted(groups.items(), key=lambda entry: entry[0][0]):
            outcomes += group_outcomes(run, await group(txn, [s.payload for s in run]))
        await self._settle(txn)
        return outcomes


async def _run_operation(txn: Txn, item: Submitted) -> Outcome:
    operation: Operation[Any] = item.operation
    mark = len(txn.effects)
    if not item.savepoint:
        try:
            return item.future, await operation(txn), None
        except EmsError as error:  # raised before any write (see the module doc)
            del txn.effects[mark:]
            return item.future, None, error
    adjustments = {key: list(value) for key, value in txn.adjustments.items()}
    try:
        async with txn.conn.transaction():  # a SAVEPOINT inside the batch's transaction
            result = await operation(txn)
    except EmsError as error:
        _undo(txn, mark, adjustments)
        return item.future, None, error
    except _NOT_THIS_OPERATION:
        raise  # a deadlock aborts the transaction: the whole batch runs again (module doc)
    except asyncpg.PostgresError as error:
        log_failure("operation failed; rolled back to its savepoint", error)
        _undo(txn, mark, adjustments)
        return item.future, None, StorageUnavailable()
    return item.future, result, None


def _undo(txn: Txn, mark: int, adjustments: dict[int, list[int]]) -> None:
    del txn.effects[mark:]
    txn.adjustments = adjustments
    txn.memo.clear()


def _describe(error: BaseException) -> str:
    # the class and PostgreSQL's message, never the statement's parameters
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def log_failure(message: str, error: BaseException) -> None:
    """Log a failed statement without what it was given: asyncpg's messages about bad
    arguments quote them, and they may be message bodies or ids."""
    if isinstance(error, asyncpg.PostgresError):
        state = getattr(error, "sqlstate", None)
        log.error("%s: %s (SQLSTATE %s)", message, type(error).__name__, state)
    else:
        log.error("%s", message, exc_info=error)
