"""What the shared operations ask of a driver: named statements in, rows out.

The operations that are the same on every database (queue lifecycle, names, move tasks, the
webhook outbox, ...) are written once, as coroutines over :class:`Statements`: each statement is
named (``sql/queries.sql`` of each driver holds its dialect's text under the same name, taking
the same parameters in the same order) and answers plain rows. A driver runs them in its
transactions (:class:`Driver`); the SQLite driver, whose statements never wait, runs them to the
end at once (:func:`run_now`) inside its group commit on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Row = Sequence[Any]


class Statements(Protocol):
    """Named statements on a connection (in a transaction, for writes)."""

    async def row(self, name: str, *args: Any) -> Row | None:
        """The first row, or None."""

    async def rows(self, name: str, *args: Any) -> list[Row]: ...

    async def value(self, name: str, *args: Any) -> Any:
        """The first column of the first row, or None when there is no row."""

    async def run(self, name: str, *args: Any) -> int:
        """Run a statement that returns no rows; how many rows it changed."""

    async def query(self, sql: str, *args: Any) -> list[Row]:
        """Rows of a statement built at run time, from the driver's fixed strings only."""


class Transaction(Protocol):
    """What a shared write sees of its driver's transaction."""

    @property
    def db(self) -> Statements: ...

    @property
    def now_ms(self) -> int: ...

    @property
    def memo(self) -> dict[Any, Any]: ...

    def after_commit(self, effect: Callable[[], None]) -> None: ...

    def forget_counters(self, queue_key: int) -> None:
        """Drop the stored-message counter changes this batch holds for a queue that is gone
        or starts again from zero (a driver that defers them, see postgres/batcher.py)."""


Write = Callable[[Any], Coroutine[Any, Any, T]]  # a coroutine function of a Transaction
Read = Callable[[Statements], Coroutine[Any, Any, T]]


class Driver(ABC):
    """How a store runs the shared operations: each write in a shared transaction (durable when
    it returns), each read on a connection of its own."""

    @abstractmethod
    def _transact(self, operation: Write[T], *, savepoint: bool = True) -> Awaitable[T]: ...

    @abstractmethod
    def _query(self, query: Read[T]) -> Awaitable[T]: ...


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (the SQLite driver's statements are synchronous) to its
    end, here; raise what it raises."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a synchronous driver's operation waited for something")
