"""The SQLite store's foundation: connections, the writer, reads, and shared lookups.

Writes go through the :class:`GroupCommitWriter` (shared fsync'd transactions: statements on the
event loop, the COMMIT on a thread);
reads that need no transaction (stats, peek, cache misses) run on a small pool of read-only
connections, which WAL lets proceed while the writer commits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from ems.core.clock import Clock, SystemClock
from ems.core.errors import QueueFull
from ems.core.models import (
    NewMessage,
    QueueRecord,
    StorageLimits,
)
from ems.core.queue_rules import queue_full
from ems.core.topic_models import TopicRecord
from ems.core.wakeups import DeliveriesReady, Releases, Wakeups
from ems.storage.base import StoreUnusable
from ems.storage.cipher import BodyCipher
from ems.storage.engine.statements import Driver, Read, Write, run_now
from ems.storage.health import DISK_FULL, StorageHealth
from ems.storage.rows import QueueRow, message_rows
from ems.storage.sqlite.migrations import migrate
from ems.storage.sqlite.opening import (
    Synchronous,
    check_pages,
    close_writer_connection,
    connect,
    lock_data_dir,
    unusable,
)
from ems.storage.sqlite.peers import PeerHandlers, Peers
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.reserve import SpaceReserve
from ems.storage.sqlite.sharing import HousekeepingLock, Sharing, WriteLock
from ems.storage.sqlite.statements import SqliteStatements
from ems.storage.sqlite.writer import GroupCommitWriter, Txn

T = TypeVar("T")
log = logging.getLogger("ems.storage.sqlite")

# while the disk is full, sends resume once this much room (beyond the reserve) is free again
ROOM_TO_RESUME: Final = 8 * 1024 * 1024
# rows deleted per sweep operation: keeps each shared transaction short
SWEEP_BUDGET: Final = 1000
RETENTION_QUEUES_PER_SWEEP: Final = 256
READ_THREADS: Final = 2


# queue key -> correlation ids of the messages that became receivable (one entry per message)
Wake = dict[int, list[str | None]]


class SqliteBase(Driver):
    """What every part of the SQLite store shares; see :class:`SqliteStore`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        wakeups: Wakeups | None = None,
        deliveries_ready: DeliveriesReady | None = None,
        releases: Releases | None = None,
        synchronous: Synchronous = "FULL",
        limits: StorageLimits | None = None,
        cipher: BodyCipher | None = None,
        quick_check: bool = False,
        disk_reserve: int = 0,
        sharing: Sharing | None = None,
    ) -> None:
        self.path = Path(path)
        # one worker of several sharing the file (``ems serve --workers``; see sharing.py)
        self._sharing = sharing
        self._peers: Peers | None = None
        self._write_lock = WriteLock(self.path) if sharing else None
        self._housekeeping_lock = HousekeepingLock(self.path) if sharing else None
        self._quick_check = quick_check
        self._disk_reserve = SpaceReserve(self.path, disk_reserve)
        self.limits = limits or StorageLimits()
        self._cipher = cipher
        self.clock: Clock = clock or SystemClock()
        self.wakeups = wakeups or Wakeups()
        self.health = StorageHealth()
        self._synchronous = synchronous
        self._writer: GroupCommitWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        # queue records by id hash, exact for this process: every change goes through the
        # writer, which invalidates entries after commit; the epoch stops a slow read that
        # raced an invalidation from caching what it read
        self._cache: dict[bytes, QueueRecord] = {}
        self._cached_hashes: dict[int, set[bytes]] = {}  # queue key -> its cached id hashes
        self._cache_epoch = 0
        self._retention_cursor = 0
        # the next message number (see _insert_messages); read from the database at open
        self._next_seq = 0
        self._topics: dict[bytes, TopicRecord] = {}
        self.deliveries_ready = deliveries_ready or DeliveriesReady()
        self.releases = releases or Releases()
        self._lock: IO[bytes] | None = None

    # lifecycle

    async def open(self) -> None:
        """Open (creating or migrating) the database; StoreUnusable says why it cannot be."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._sharing is None:  # else the parent of the workers holds the lock
                self._lock = lock_data_dir(self.path)
        except OSError as error:
            raise StoreUnusable(
                f"cannot use the data directory {self.path.parent}: {error.strerror}"
            ) from None

        def connect_and_migrate() -> sqlite3.Connection:
            conn = connect(self.path, self._synchronous, readonly=False)
            if self._sharing is not None:
                return conn  # checked, migrated and released by prepare_shared_file
            try:
                if self._quick_check:
                    check_pages(conn, self.path)
                migrate(conn)
                # one process owns this file (see the data-dir lock), so leases still held
                # are those of a process that died: its pushes are due again at once
                conn.execute(Q["release_leases"])
                conn.execute(Q["release_move_leases"])
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.to_thread(connect_and_migrate)
        except (sqlite3.Error, StoreUnusable) as error:
            if self._lock is not None:
                self._lock.close()
                self._lock = None
            if isinstance(error, StoreUnusable):
                raise
            raise unusable(self.path, error) from None
        self._writer = GroupCommitWriter(
            conn,
            self.clock,
            self.health,
            on_disk_full=self._disk_reserve.release,
            write_lock=self._write_lock,
        )
        (self._next_seq,) = conn.execute(Q["next_message_seq"]).fetchone()
        self._disk_reserve.ensure()
        self._writer.start()
        self._readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="ems-sqlite-read")
        if self._sharing is not None:
            handlers = PeerHandlers(
                self.wakeups,
                self._forget_here,
                self._forget_topic_here,
                self._forget_everything,
                self.releases.notify,
            )
            self._peers = Peers(self.path, self._sharing, handlers)
            self._peers.start(asyncio.get_running_loop())

    async def close(self) -> None:
        if self._peers is not None:
            self._peers.stop()
            self._peers = None
        if self._writer is not None:
            await self._writer.stop()
            conn = self._writer.conn
            await asyncio.to_thread(close_writer_connection, conn, self._write_lock)
            self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        for lock in (self._write_lock, self._housekeeping_lock):
            if lock is not None:
                lock.close()

    def _may_housekeep(self) -> bool:
        """Sweeps run in one worker at a time: the one holding the housekeeping lock."""
        return self._housekeeping_lock is None or self._housekeeping_lock.try_hold()

    # plumbing

    def _write(self, operation: Callable[[Txn], T], *, savepoint: bool = True) -> asyncio.Future[T]:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer.submit(operation, savepoint=savepoint)

    def _transact(self, operation: Write[T], *, savepoint: bool = True) -> asyncio.Future[T]:
        return self._write(lambda txn: run_now(operation(txn)), savepoint=savepoint)

    def _query(self, query: Read[T]) -> Awaitable[T]:
        return self._read(lambda conn: run_now(query(SqliteStatements(conn))))

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, self._run_read, query
        )

    def _run_read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._synchronous, readonly=True)
            self._local.conn = conn
            self._reader_conns.append(conn)
        return query(conn)

    def _cache_queue(self, queue_hash: bytes, record: QueueRecord, epoch: int) -> None:
        if epoch == self._cache_epoch:
            self._cache[queue_hash] = record
            self._cached_hashes.setdefault(record.key, set()).add(queue_hash)

    def _forget(self, *queue_keys: int) -> None:
        """After a commit changed these queues: drop them here and in the other workers."""
        self._forget_here(*queue_keys)
        if self._peers is not None:
            for key in queue_keys:
                self._peers.forget(key)

    def _forget_here(self, *queue_keys: int) -> None:
        """Drop cached records of these queues, under every id they were reached by."""
        self._cache_epoch += 1
        for key in queue_keys:
            for queue_hash in self._cached_hashes.pop(key, ()):
                self._cache.pop(queue_hash, None)

    def _announce_release(self, txn: Txn, queue_key: int) -> None:
        """After deletes or visibility changes: streams on other workers may have room."""
        if (peers := self._peers) is not None:
            txn.after_commit(lambda: peers.release(queue_key))

    def _forget_topic(self, topic_hash: bytes) -> None:
        self._forget_topic_here(topic_hash)
        if self._peers is not None:
            self._peers.forget_topic(topic_hash)

    def _forget_topic_here(self, topic_hash: bytes) -> None:
        self._cache_epoch += 1
        self._topics.pop(topic_hash, None)

    def _forget_everything(self) -> None:
        self._cache_epoch += 1
        self._cache.clear()
        self._cached_hashes.clear()
        self._topics.clear()

    def _reserve(self, txn: Txn, queue: QueueRow, count: int, size: int) -> QueueFull | None:
        """Take room for ``count`` messages of ``size`` stored bytes, or say why not."""
        cursor = txn.conn.execute(
            Q["reserve_storage"],
            (count, size, queue.record.key, self.limits.max_messages, self.limits.max_bytes),
        )
        return None if cursor.rowcount == 1 else queue_full(queue.record.config, self.limits)

    def _release(self, txn: Txn, queue_key: int, count: int, size: int) -> None:
        if count:
            txn.conn.execute(Q["release_storage"], (count, size, queue_key))

    def _message_rows(
        self,
        queue: QueueRow,
        messages: Iterable[NewMessage],
        now: int,
        rows: list[tuple[Any, ...]],
    ) -> tuple[int, list[str | None]]:
        return message_rows(queue, messages, now, rows, self._cipher)

    def _insert_messages(self, txn: Txn, rows: list[tuple[Any, ...]], wake: Wake) -> None:
        """Insert message rows, numbered from the high-water mark.

        A message's number (seq) is its identity in receipt handles, so no number may ever be
        handed out twice. SQLite gives a new row max(seq) + 1, which reuses the number of a
        deleted newest message; so the first row of each call is placed at the mark, above
        every number handed out, and SQLite numbers the others after it. The mark is stored
        with the rows, in the same transaction; a rolled-back write leaves a gap, never a
        reuse, as the mark in memory only grows. (AUTOINCREMENT keeps such a mark too, but
        writes it row by row, and numbering every row here costs a tuple per row: this is one
        extra statement per call.)
        """
        if rows:
            conn = txn.conn
            if self._sharing is not None and "next-seq" not in txn.memo:
                # other workers hand out numbers too: start from the mark they left
                (mark,) = conn.execute(Q["next_message_seq"]).fetchone()
                self._next_seq = max(self._next_seq, mark)
                txn.memo["next-seq"] = True
            first = self._next_seq
            conn.execute(Q["insert_message_at"], (first, *rows[0]))
            if len(rows) > 1:
                conn.executemany(Q["insert_message"], islice(rows, 1, None))
            self._next_seq = first + len(rows)
            conn.execute(Q["set_next_message_seq"], (self._next_seq,))
        if wake:
            txn.after_commit(lambda: self._wake(wake))

    def _deliveries_ready(self, subscription_keys: Iterable[int]) -> None:
        self.deliveries_ready(subscription_keys)

    def _wake(self, receivable: Wake) -> None:
        for key, correlation_ids in receivable.items():
            self.wakeups.notify(key, len(correlation_ids), correlation_ids)
            if self._peers is not None:
                self._peers.wake(key, len(correlation_ids), correlation_ids)

    async def _look_for_room(self) -> None:
        """While the disk is full: is there room for new messages again? Room is free disk
        space plus the pages that deletes freed inside the database (which SQLite reuses)."""
        outage = self.health.outage
        if outage is None or outage.kind != DISK_FULL:
            return

        def free_pages(conn: sqlite3.Connection) -> int:
            (count,) = conn.execute("PRAGMA freelist_count").fetchone()
            (size,) = conn.execute("PRAGMA page_size").fetchone()
            return int(count) * int(size)

        room = await self._read(free_pages) + self._disk_reserve.disk_free()
        if room >= ROOM_TO_RESUME + self._disk_reserve.size:
            self._disk_reserve.ensure()
            self.health.recovered()

    @property
    def commit_stats(self) -> tuple[int, int, float]:
        return (0, 0, 0.0) if self._writer is None else self._writer.stats

    async def server_secret(self, name: str) -> bytes:
        candidate = os.urandom(32)

        def operation(txn: Txn) -> bytes:
            txn.conn.execute(Q["meta_insert"], (f"secret:{name}", candidate))
            (value,) = txn.conn.execute(Q["meta_get"], (f"secret:{name}",)).fetchone()
            return bytes(value)

        return await self._write(operation)

    # queues
