"""The PostgreSQL store's foundation: the pool, group commit, signals and shared lookups.

Writes go through the :class:`~ems.storage.postgres.batcher.Batcher` (shared transactions);
reads that need no transaction run on pool connections. Every node keeps queue records in a
cache that its own writes keep exact and other nodes' notifications (or, failing those, a short
time to live) keep current; the hot paths only take a queue's key and settings from it and let
SQL find its messages, so a stale entry cannot misplace a message.

Connections are made host by host (:mod:`~ems.storage.postgres.hosts`), every use of one is
bounded in time, and what the store does when the database stops answering is in
:mod:`~ems.storage.postgres.availability`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Final, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import Pool, PoolConnectionProxy

from ems.core.clock import Clock, SystemClock
from ems.core.errors import EmsError, QueueFull, QueueNotFound, StorageUnavailable
from ems.core.models import NewMessage, QueueRecord, StorageLimits
from ems.core.queue_rules import queue_full
from ems.core.topic_models import TopicRecord
from ems.core.wakeups import DeliveriesReady, Releases, Wakeups
from ems.storage.cipher import BodyCipher
from ems.storage.engine.statements import Driver, Read, Write
from ems.storage.health import StorageHealth
from ems.storage.postgres.availability import HOST_TIMEOUT, Availability, describe, keep_session
from ems.storage.postgres.batcher import UNAVAILABLE, Batcher, Operation, Txn, log_failure
from ems.storage.postgres.hosts import Connector
from ems.storage.postgres.migrations import migrate
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.postgres.signals import Signals
from ems.storage.postgres.statements import PostgresStatements
from ems.storage.roles import lookups
from ems.storage.roles.lookups import queue_by_key
from ems.storage.rows import QueueRow, message_rows

T = TypeVar("T")
log = logging.getLogger("ems.storage.postgres")

Conn: TypeAlias = "PoolConnectionProxy[Any]"
# queue key -> correlation ids of the messages that became receivable (one entry per message)
Wake = dict[int, list[str | None]]

SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,47}")
# how long a node trusts a cached queue record it heard nothing about
CACHE_SECONDS: Final = 10.0
SWEEP_BUDGET: Final = 1000
RETENTION_QUEUES_PER_SWEEP: Final = 256


async def _probe_write(txn: Txn) -> None:
    await txn.conn.fetchval(Q["probe_write"])


async def lookup_queue(conn: Conn, queue_hash: bytes) -> QueueRow:
    return await lookups.lookup_queue(PostgresStatements(conn), queue_hash)


async def lookup_topic(conn: Conn, topic_hash: bytes) -> TopicRecord:
    return await lookups.lookup_topic(PostgresStatements(conn), topic_hash)


class PostgresBase(Driver):
    """What every part of the PostgreSQL store shares; see :class:`PostgresStore`."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "ems",
        clock: Clock | None = None,
        wakeups: Wakeups | None = None,
        deliveries_ready: DeliveriesReady | None = None,
        releases: Releases | None = None,
        limits: StorageLimits | None = None,
        cipher: BodyCipher | None = None,
        pool_size: int = 10,
        poll_interval: float = 2.0,
        timeout: float = 5.0,
        connect_timeout: float = 30.0,
    ) -> None:
        """``timeout``: how long a request may wait on the database (see availability.py);
        ``connect_timeout``: how long :meth:`open` waits for it to come up."""
        if not SCHEMA_NAME.fullmatch(schema):
            raise ValueError(
                f"schema name {schema!r}: use lowercase letters, digits and _ (at most 48)"
            )
        self.schema = schema
        self.clock: Clock = clock or SystemClock()
        self.wakeups = wakeups or Wakeups()
        self.health = StorageHealth()
        self.limits = limits or StorageLimits()
        self._cipher = cipher
        self._pool_size = pool_size
        # waiting receivers re-check this often, in case a notification was lost
        self.poll_interval: float | None = poll_interval
        self.timeout = timeout
        self._connect_timeout = connect_timeout
        # ValueError here if the URL cannot be read (the message never quotes it)
        self._connector = Connector(dsn, host_timeout=min(HOST_TIMEOUT, timeout / 2))
        self.availability = Availability(
            self.health, self._connector, timeout, lambda: self._write(_probe_write)
        )
        self.node = secrets.token_hex(6)
        self._pool: Pool[Any] | None = None
        self._batcher: Batcher | None = None
        self._signals: Signals | None = None
        # id hash -> (queue, expiry on the loop's clock); see the module doc
        self._cache: dict[bytes, tuple[QueueRow, float]] = {}
        self._cached_hashes: dict[int, set[bytes]] = {}
        self._cache_epoch = 0
        self._topics: dict[bytes, TopicRecord] = {}
        self._retention_cursor = 0
        self._vacuum_due = 0.0
        self.deliveries_ready = deliveries_ready or DeliveriesReady()
        self.releases = releases or Releases()

    # lifecycle

    async def open(self) -> None:
        await self._migrate()
        try:
            await self._connect()
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> None:
        # no minimum size: asyncpg would restore it in the background while the database is
        # away, logging a traceback each time; requests connect as they need to
        self._pool = await asyncpg.create_pool(
            None,
            connect=self._connector.connect,
            min_size=0,
            max_size=self._pool_size,
            reset=keep_session,
            server_settings=self._server_settings(),
        )
        async with self._acquire(self._connect_timeout) as conn:
            await conn.fetchval("SELECT 1")  # one connection ready before the first request
        self._batcher = Batcher(self._acquire, self.clock, self._settle)
        self._signals = Signals(
            lambda: self._connector.connect(server_settings=self._server_settings()),
            f"ems_{self.schema}",
            self.node,
            on_wake=self._remote_wake,
            on_wake_all=self.wakeups.notify_all,
            on_forget=self._remote_forget,
            on_reconnect=self._reset_caches,
            timeout=self.timeout,
            health=self.health,
        )
        try:
            await self._signals.start(self._connect_timeout)
        except TimeoutError:
            raise StorageUnavailable("cannot LISTEN for other nodes' notifications") from None
        self.availability.start()

    def _server_settings(self) -> dict[str, str]:
        return {"search_path": self.schema, "application_name": "ems"}

    async def _migrate(self) -> None:
        """Connect (waiting up to connect_timeout for the database) and migrate the schema."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._connect_timeout
        while True:
            try:
                conn = await self._connector.connect()
                break
            except UNAVAILABLE as error:
                if loop.time() >= deadline:
                    raise StorageUnavailable(f"cannot connect to PostgreSQL: {error}") from None
                log.warning("waiting for PostgreSQL: %s", error)
                await asyncio.sleep(1)
        try:
            await migrate(conn, self.schema)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.availability.close()
        if self._batcher is not None:
            await self._batcher.stop()
            self._batcher = None
        if self._signals is not None:
            await self._signals.stop()
            self._signals = None
        if self._pool is not None:
            try:
                # closing says goodbye to the server: do not wait on one that hangs
                async with asyncio.timeout(self.timeout):
                    await self._pool.close()
            except TimeoutError:
                self._pool.terminate()
            self._pool = None

    # plumbing

    @asynccontextmanager
    async def _acquire(self, limit: float | None = None) -> AsyncIterator[Conn]:
        """A pool connection for at most ``limit`` seconds (the store's timeout by default), the
        wait for it included (see availability.bounded); a failure that says the database is
        unavailable is reported on its way out."""
        if self._pool is None:
            raise RuntimeError("store is not open")
        async with self.availability.acquire(self._pool, limit) as conn:
            yield conn

    def _write(self, operation: Operation[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        if self._batcher is None:
            raise RuntimeError("store is not open")
        return self._batcher.submit(operation, savepoint=savepoint)

    def _transact(self, operation: Write[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        return self._write(operation, savepoint=savepoint)

    def _query(self, query: Read[T]) -> Awaitable[T]:
        return self._read(lambda conn: query(PostgresStatements(conn)))

    async def _read(
        self, query: Callable[[Conn], Awaitable[T]], *, limit: float | None = None
    ) -> T:
        try:
            async with self._acquire(limit) as conn:
                return await query(conn)
        except EmsError:
            raise
        except UNAVAILABLE as error:
            # the store's health logs the outage once; this would log it per request
            log.debug("a read failed: %s", describe(error))
            raise StorageUnavailable() from None
        except asyncpg.PostgresError as error:
            log_failure("a read failed", error)
            raise StorageUnavailable() from None

    @property
    def commit_stats(self) -> tuple[int, int, float]:
        return (0, 0, 0.0) if self._batcher is None else self._batcher.stats

    # the queue cache

    async def _cached_queue(self, queue_hash: bytes) -> QueueRow:
        now = asyncio.get_running_loop().time()
        entry = self._cache.get(queue_hash)
        if entry is not None and entry[1] > now:
            return entry[0]
        epoch = self._cache_epoch
        queue = await self._read(lambda conn: lookup_queue(conn, queue_hash))
        if epoch == self._cache_epoch:
            self._cache[queue_hash] = (queue, now + CACHE_SECONDS)
            self._cached_hashes.setdefault(queue.record.key, set()).add(queue_hash)
        return queue

    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        return (await self._cached_queue(queue_hash)).record

    def _forget(self, *queue_keys: int) -> None:
        """After a commit changed these queues: drop them here and tell the other nodes."""
        self._forget_here(*queue_keys)
        if self._signals is not None:
            for key in queue_keys:
                self._signals.forget(key)

    def _forget_here(self, *queue_keys: int) -> None:
        self._cache_epoch += 1
        for key in queue_keys:
            for queue_hash in self._cached_hashes.pop(key, ()):
                self._cache.pop(queue_hash, None)

    def _remote_forget(self, queue_key: int) -> None:
        self._forget_here(queue_key)
        self.wakeups.notify_all(queue_key)  # a deleted queue's waiters must find out

    def _reset_caches(self) -> None:
        self._cache_epoch += 1
        self._cache.clear()
        self._cached_hashes.clear()
        self._topics.clear()
        self.wakeups.notify_every_queue()

    # wakeups

    def _wake(self, receivable: Wake) -> None:
        for key, correlation_ids in receivable.items():
            self.wakeups.notify(key, len(correlation_ids), correlation_ids)
            if self._signals is not None:
                self._signals.wake(key, len(correlation_ids), correlation_ids)

    def _remote_wake(self, queue_key: int, count: int, correlation_ids: Iterable[str]) -> None:
        self.wakeups.notify(queue_key, count, correlation_ids)

    def _deliveries_ready(self, subscription_keys: Iterable[int]) -> None:
        self.deliveries_ready(subscription_keys)

    # stored-message accounting

    async def _reserve(self, txn: Txn, queue: QueueRow, count: int, size: int) -> int | QueueFull:
        """Take room for ``count`` messages of ``size`` stored bytes: the queue's current
        partition, or why not. Raise QueueNotFound if the queue is gone."""
        partition = await txn.conn.fetchval(
            Q["reserve_storage"],
            count, size, queue.record.key, self.limits.max_messages, self.limits.max_bytes,
        )  # fmt: skip
        if partition is not None:
            return int(partition)
        if await queue_by_key(txn, queue.record.key) is None:
            raise QueueNotFound()
        return queue_full(queue.record.config, self.limits)

    async def _settle(self, txn: Txn) -> None:
        """Apply the batch's deferred counter changes, in queue-key order (see batcher)."""
        for key in sorted(txn.adjustments):
            await self._apply_adjustment(txn, key)

    async def _apply_adjustment(self, txn: Txn, queue_key: int) -> None:
        adjustment = txn.adjustments.pop(queue_key, None)
        if adjustment is not None and (adjustment[0] or adjustment[1]):
            await txn.conn.execute(Q["adjust_storage"], adjustment[0], adjustment[1], queue_key)

    def _message_rows(
        self,
        queue: QueueRow,
        messages: Iterable[NewMessage],
        now: int,
        rows: list[tuple[Any, ...]],
    ) -> tuple[int, list[str | None]]:
        return message_rows(queue, messages, now, rows, self._cipher)

    async def _insert_messages(
        self, txn: Txn, rows: list[tuple[Any, ...]], partitions: dict[int, int], wake: Wake
    ) -> None:
        """Insert rows made for queues whose current partitions may differ (old -> new)."""
        if rows:
            columns = list(zip(*rows, strict=True))
            if partitions:
                columns[0] = tuple(partitions.get(p, p) for p in columns[0])
            await txn.conn.execute(Q["insert_messages"], *columns)
        if wake:
            txn.after_commit(lambda: self._wake(wake))

    async def server_secret(self, name: str) -> bytes:
        candidate = os.urandom(32)

        async def operation(txn: Txn) -> bytes:
            await txn.conn.execute(Q["meta_insert"], f"secret:{name}", candidate)
            return bytes(await txn.conn.fetchval(Q["meta_get"], f"secret:{name}"))

        return await self._write(operation)
