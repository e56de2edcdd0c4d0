"""What a scenario's workers share in one process: options, budget, tally and progress."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ems.bench.http import RawConnection
from ems.bench.options import Budget, Counter, Options
from ems.bench.stats import Tally


@dataclass
class Context:
    options: Options
    counter: Counter
    budget: Budget = field(init=False)
    tally: Tally = field(default_factory=Tally)
    # what the run does when it is not counting operations (the progress line shows it)
    phase: str | None = None

    def __post_init__(self) -> None:
        self.budget = Budget(self.options)

    def done(self, operations: int, latency_ms: float | None = None) -> None:
        self.tally.operations += operations
        self.counter.value += operations
        if latency_ms is not None:
            self.tally.latencies_ms.append(latency_ms)

    def connection(self) -> RawConnection:
        target = self.options.target
        return RawConnection(target.host, target.port)

    def path(self, path: str) -> str:
        return self.options.target.prefix + path


TRANSPORT_ERRORS = (
    ConnectionError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    OSError,
)


async def request(
    context: Context, connection: RawConnection, method: str, path: str, body: bytes = b""
) -> tuple[int, bytes] | None:
    """One request counted in the tally; None (and a fresh connection next time) if it failed."""
    context.tally.requests += 1
    try:
        return await connection.request(method, path, body)
    except TRANSPORT_ERRORS as error:
        context.tally.error(type(error).__name__)
        await connection.close()
        return None


@contextlib.asynccontextmanager
async def connections(context: Context, count: int) -> AsyncIterator[list[RawConnection]]:
    opened = [context.connection() for _ in range(count)]
    try:
        yield opened
    finally:
        for connection in opened:
            with contextlib.suppress(*TRANSPORT_ERRORS):
                await connection.close()
