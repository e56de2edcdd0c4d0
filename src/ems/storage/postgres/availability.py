"""Bounded waits on PostgreSQL, and what the store does when the database cannot be written.

A database that hangs (frozen, powered off, cut off by a partition: no refusal, no answer) is
worse than one that is down: without limits, every request waits on it, the one-at-a-time group
commit waits with them, and the connections to it outlive a failover. So:

- **Every use of a pool connection has a deadline** (``--database-timeout``, 5 s by default),
  the wait for a connection included. When it passes, the connection is terminated: whatever ran
  on it fails at once, PostgreSQL rolls back its open transaction, and a connection whose last
  exchange is unknown is never reused. The caller gets ``TimeoutError`` (503 to the requests).
- **A failure that says the database is unavailable** (timed out, unreachable, a read-only
  server after a failover, out of disk) marks the store's health, which ``/readyz`` reports, and,
  unless it is about resources, terminates every connection the store made, the LISTEN one
  included: after a failover they all lead to the old primary, whose host the next connection
  then tries last (hosts.py). Failures of connections that such a drop itself terminated are not
  counted again, or one drop would cause the next.
- **Recovery is proven by a write.** While the store is marked unavailable, a probe commits a tiny
  write through the group commit twice a second; the first that commits marks the store available
  again. A successful read proves nothing (a standby answers reads), and neither does a commit
  that wrote nothing (it waits for no WAL flush and no synchronous standby).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from ems.core.errors import StorageUnavailable
from ems.storage.health import StorageHealth
from ems.storage.postgres.batcher import UNAVAILABLE
from ems.storage.postgres.hosts import Connector, NoHostAvailable

if TYPE_CHECKING:
    from asyncpg.pool import Pool, PoolConnectionProxy

log = logging.getLogger("ems.storage.postgres")

# the health probe's period while the store is marked unavailable
PROBE_INTERVAL: Final = 0.5
# a host that does not answer a connection attempt within this (at most half the store's
# timeout) is left for the next one; the URL's connect_timeout overrides it
HOST_TIMEOUT: Final = 2.0


class Availability:
    """One store's bounded connections, outages and recovery probe; see the module doc.

    ``probe`` commits the probe's write through the store's group commit.
    """

    def __init__(
        self,
        health: StorageHealth,
        connector: Connector,
        timeout: float,
        probe: Callable[[], Awaitable[object]],
    ) -> None:
        self.health = health
        self.timeout = timeout
        self._connector = connector
        self._probe_write = probe
        self._probe: asyncio.Task[None] | None = None
        # the times the store dropped its connections: a failure on a connection that a drop
        # terminated while it was in use says nothing new
        self.drops = 0
        self._serving = False

    @asynccontextmanager
    async def acquire(
        self, pool: Pool[Any], limit: float | None = None
    ) -> AsyncIterator[PoolConnectionProxy[Any]]:
        """A connection of ``pool`` for at most ``limit`` seconds (the store's timeout by
        default); a failure that says the database is unavailable is reported on its way out."""
        drops = self.drops
        server_pid: int | None = None
        try:
            async with bounded(pool, self.timeout if limit is None else limit) as conn:
                server_pid = conn.get_server_pid()
                yield conn
        except Exception as error:
            if drops == self.drops:
                self.unavailable(error, server_pid)
            raise

    def unavailable(self, error: BaseException, server_pid: int | None = None) -> None:
        """The database failed in a way that is not the request's (on the connection to
        ``server_pid``, if it had one): mark the store unavailable, drop its connections if
        they lead nowhere useful, and probe until a write commits."""
        found = outage(error)
        if found is None:
            return
        kind, drop = found
        self.health.failed(kind, describe(error))
        if drop:
            self.drops += 1
            if server_pid is not None:
                self._connector.distrust(server_pid)
            dropped = self._connector.terminate_all()
            log.debug("dropped %d connections (%s)", dropped, kind)
        self._start_probe()

    def start(self) -> None:
        """The store is open: from now on an outage is probed until it ends."""
        self._serving = True
        self._start_probe()

    def _start_probe(self) -> None:
        if self._serving and self._probe is None and self.health.outage is not None:
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_until_writable(), name="ems-postgres-probe"
            )

    async def _probe_until_writable(self) -> None:
        try:
            while self.health.outage is not None:
                await asyncio.sleep(PROBE_INTERVAL)
                try:
                    await self._probe_write()
                except StorageUnavailable:
                    continue
                self.health.recovered()
        finally:
            self._probe = None

    async def close(self) -> None:
        self._serving = False
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


def outage(error: BaseException) -> tuple[str, bool] | None:
    """What ``error`` says about the database: the kind of outage (a stable word, for logs and
    ``/readyz``) and whether the store's connections should be dropped; None when it says
    nothing about availability (the statement itself was wrong)."""
    if isinstance(error, TimeoutError):
        return "timeout", True
    if isinstance(
        error,
        (
            asyncpg.exceptions.ReadOnlySQLTransactionError,
            asyncpg.exceptions.TargetServerAttributeNotMatched,
        ),
    ) or (isinstance(error, NoHostAvailable) and error.wrong_kind):
        return "read-only", True
    if isinstance(error, asyncpg.exceptions.DiskFullError):
        return "disk-full", False
    if isinstance(error, asyncpg.exceptions.InsufficientResourcesError):
        return "insufficient-resources", False
    if isinstance(error, UNAVAILABLE):
        return "unreachable", True
    return None


def describe(error: BaseException) -> str:
    """A log-safe account of ``error``: its class and first line (hosts at most; never a
    password, never a statement's parameters)."""
    if isinstance(error, NoHostAvailable):
        return str(error)
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}{': ' + text if text else ''}"


@asynccontextmanager
async def bounded(pool: Pool[Any], seconds: float) -> AsyncIterator[PoolConnectionProxy[Any]]:
    """A connection from ``pool`` for at most ``seconds``, the wait for it included; see the
    module doc. The deadline terminates the connection rather than cancelling the caller, so a
    statement in flight fails cleanly and nothing waits on the hung server to hear a cancel."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        acquiring = pool.acquire(timeout=seconds)
        conn = await acquiring.__aenter__()
    except TimeoutError:
        raise TimeoutError(f"no connection within {seconds:g} s") from None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        conn.terminate()

    timer = loop.call_at(started + seconds, expire)
    try:
        yield conn
    except Exception as error:
        if expired:
            raise TimeoutError(f"no answer within {seconds:g} s") from error
        raise
    finally:
        timer.cancel()
        # a terminated connection goes back to the pool at once; a live one without a network
        # round trip (the pool's reset is a no-op: EMS leaves no session state behind)
        await acquiring.__aexit__(None, None, None)


async def keep_session(conn: asyncpg.Connection[Any]) -> None:
    """The pool's reset between uses: nothing. asyncpg's default sends RESET ALL, UNLISTEN and
    more on every release, a round trip per batch that EMS does not need (its sessions hold no
    settings, listeners or session locks), and one more place to hang on a frozen server."""
