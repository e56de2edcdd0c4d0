"""The SQLite store's foundation: connections, the writer, reads, and shared lookups.

Writes go through the :class:`GroupCommitWriter` (one thread, shared fsync'd transactions);
reads that need no transaction (stats, peek, cache misses) run on a small pool of read-only
connections, which WAL lets proceed while the writer commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, Literal, TypeVar

from ems.core.clock import Clock, SystemClock
from ems.core.errors import MessageTooLarge, QueueNotFound, TopicNotFound
from ems.core.models import DeadLetter, NewMessage, QueueConfig, QueueRecord, StoredMessage
from ems.core.topic_models import TopicConfig, TopicRecord
from ems.core.wakeups import Wakeups
from ems.storage.sqlite.migrations import migrate
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import GroupCommitWriter, Txn

if sys.platform != "win32":
    import fcntl

T = TypeVar("T")
log = logging.getLogger("ems.storage.sqlite")
Synchronous = Literal["FULL", "NORMAL", "OFF"]

_EMPTY: Final[MappingProxyType[str, str]] = MappingProxyType({})
# rows deleted per sweep operation: keeps each shared transaction short
SWEEP_BUDGET: Final = 1000
RETENTION_QUEUES_PER_SWEEP: Final = 256
READ_THREADS: Final = 2


@dataclass(frozen=True, slots=True)
class QueueRow:
    record: QueueRecord
    partition: int
    dead_letter_key: int | None
    dead_letter_partition: int | None


def queue_from_row(row: tuple[Any, ...]) -> QueueRow:
    (key, partition, visibility, retention, max_bytes, delay, wait, dl_key, dl_hash,
     max_receives, sealed, created_at, dl_partition) = row  # fmt: skip
    dead_letter = (
        DeadLetter(queue_hash=dl_hash, max_receives=max_receives, sealed_queue_id=sealed)
        if dl_key is not None and dl_hash is not None
        else None
    )
    config = QueueConfig(
        visibility_timeout=visibility,
        retention_seconds=retention,
        max_message_bytes=max_bytes,
        delay_seconds=delay,
        receive_wait_seconds=wait,
        dead_letter=dead_letter,
    )
    return QueueRow(QueueRecord(key, config, created_at), partition, dl_key, dl_partition)


def queue_in(txn: Txn, queue_hash: bytes) -> QueueRow:
    """A queue as this batch sees it, looked up once per batch (found queues only)."""
    queue: QueueRow | None = txn.memo.get(queue_hash)
    if queue is None:
        queue = txn.memo[queue_hash] = lookup_queue(txn.conn, queue_hash)
    return queue


def queue_by_key(txn: Txn, queue_key: int) -> QueueRow | None:
    """A queue by its internal key, as this batch sees it; None if it was deleted."""
    memo_key = ("queue-key", queue_key)
    queue: QueueRow | None = txn.memo.get(memo_key)
    if queue is None:
        row = txn.conn.execute(Q["queue_by_key"], (queue_key,)).fetchone()
        if row is None:
            return None
        queue = txn.memo[memo_key] = queue_from_row(row)
    return queue


def lookup_topic(conn: sqlite3.Connection, topic_hash: bytes) -> TopicRecord:
    row = conn.execute(Q["topic_by_hash"], (topic_hash,)).fetchone()
    if row is None:
        raise TopicNotFound()
    key, public_id, max_bytes, created_at = row
    return TopicRecord(key, public_id, TopicConfig(max_message_bytes=max_bytes), created_at)


def topic_in(txn: Txn, topic_hash: bytes) -> TopicRecord:
    memo_key = ("topic", topic_hash)
    topic: TopicRecord | None = txn.memo.get(memo_key)
    if topic is None:
        topic = txn.memo[memo_key] = lookup_topic(txn.conn, topic_hash)
    return topic


def lookup_queue(conn: sqlite3.Connection, queue_hash: bytes) -> QueueRow:
    row = conn.execute(Q["queue_by_hash"], (queue_hash,)).fetchone()
    if row is None:
        raise QueueNotFound()
    return queue_from_row(row)


def message_from_row(
    row: tuple[Any, ...], visible_at: int, *, received_at: int | None = None
) -> StoredMessage:
    """A message row; with ``received_at``, as its receiver sees it after this receive."""
    seq, message_id, body, correlation_id, attributes, receive_count, sent_at, first_received = row
    if received_at is not None:
        receive_count += 1
        first_received = first_received or received_at
    return StoredMessage(
        seq=seq,
        message_id=message_id,
        body=body,
        correlation_id=correlation_id,
        attributes=json.loads(attributes) if attributes else _EMPTY,
        receive_count=receive_count,
        sent_at_ms=sent_at,
        first_received_at_ms=first_received,
        visible_at_ms=visible_at,
    )


# queue key -> correlation ids of the messages that became receivable (one entry per message)
Wake = dict[int, list[str | None]]


def oversize(queue: QueueRow, messages: Iterable[NewMessage]) -> MessageTooLarge | None:
    limit = queue.record.config.max_message_bytes
    largest = max((m.size for m in messages), default=0)
    if largest <= limit:
        return None
    return MessageTooLarge(
        f"A message is {largest} bytes (body plus attributes); this queue accepts at most {limit}."
    )


def add_message_rows(
    queue: QueueRow,
    messages: Iterable[NewMessage],
    now: int,
    rows: list[tuple[Any, ...]],
    wake: Wake,
) -> None:
    """Append the INSERT rows of ``messages`` into ``queue``; note what is receivable now."""
    default_delay = queue.record.config.delay_seconds
    key, partition = queue.record.key, queue.partition
    for message in messages:
        delay = default_delay if message.delay_seconds is None else message.delay_seconds
        if delay == 0:
            wake.setdefault(key, []).append(message.correlation_id)
        attributes = (
            json.dumps(message.attributes, separators=(",", ":")) if message.attributes else None
        )
        rows.append(
            (partition, now + delay * 1000, now, message.message_id, message.correlation_id,
             attributes, message.body)
        )  # fmt: skip


def _connect(path: Path, synchronous: Synchronous, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA cache_size = -65536")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


class SqliteBase:
    """What every part of the SQLite store shares; see :class:`SqliteStore`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        wakeups: Wakeups | None = None,
        synchronous: Synchronous = "FULL",
    ) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()
        self.wakeups = wakeups or Wakeups()
        self._synchronous = synchronous
        self._writer: GroupCommitWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        # queue records by id hash, exact for this process: every change goes through the
        # writer, which invalidates entries after commit; the epoch stops a slow read that
        # raced an invalidation from caching what it read
        self._cache: dict[bytes, QueueRecord] = {}
        self._cache_epoch = 0
        self._retention_cursor = 0
        self._topics: dict[bytes, TopicRecord] = {}
        self.deliveries_ready: Callable[[Iterable[int]], None] | None = None
        self._lock: IO[bytes] | None = None

    # lifecycle

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_data_dir(self.path)

        def connect_and_migrate() -> sqlite3.Connection:
            conn = _connect(self.path, self._synchronous, readonly=False)
            migrate(conn)
            # one process owns this file (see the data-dir lock), so leases still held are
            # those of a process that died: its pushes are due again at once
            conn.execute(Q["release_leases"])
            return conn

        conn = await asyncio.to_thread(connect_and_migrate)
        self._writer = GroupCommitWriter(conn, self.clock)
        self._writer.start(loop)
        self._readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="ems-sqlite-read")

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.stop()
            batches, operations = self.commit_stats
            log.info(
                "group commit: %d operations in %d transactions (%.1f per commit)",
                operations,
                batches,
                operations / max(batches, 1),
            )
            conn = self._writer.conn
            await asyncio.to_thread(_close_writer_connection, conn)
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

    # plumbing

    def _write(self, operation: Callable[[Txn], T], *, savepoint: bool = True) -> asyncio.Future[T]:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer.submit(operation, savepoint=savepoint)

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, self._run_read, query
        )

    def _run_read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous, readonly=True)
            self._local.conn = conn
            self._reader_conns.append(conn)
        return query(conn)

    def _forget(self, *queue_hashes: bytes) -> None:
        self._cache_epoch += 1
        for queue_hash in queue_hashes:
            self._cache.pop(queue_hash, None)

    def _insert_messages(self, txn: Txn, rows: list[tuple[Any, ...]], wake: Wake) -> None:
        if rows:
            txn.conn.executemany(Q["insert_message"], rows)
        if wake:
            txn.after_commit(lambda: self._wake(wake))

    def _wake(self, receivable: Wake) -> None:
        for key, correlation_ids in receivable.items():
            self.wakeups.notify(key, len(correlation_ids), correlation_ids)

    @property
    def commit_stats(self) -> tuple[int, int]:
        """(batches, operations) committed so far: the group-commit factor is their ratio."""
        if self._writer is None:
            return (0, 0)
        return (self._writer.batches, self._writer.operations)

    async def server_secret(self, name: str) -> bytes:
        candidate = os.urandom(32)

        def operation(txn: Txn) -> bytes:
            txn.conn.execute(Q["meta_insert"], (f"secret:{name}", candidate))
            (value,) = txn.conn.execute(Q["meta_get"], (f"secret:{name}",)).fetchone()
            return bytes(value)

        return await self._write(operation)

    # queues


class DataDirInUse(RuntimeError):
    """Another EMS process serves this SQLite file; two would corrupt each other's caches."""


def _lock_data_dir(path: Path) -> IO[bytes]:
    lock = open(path.with_name(path.name + ".lock"), "wb")  # noqa: SIM115 - held until close()
    if sys.platform == "win32":  # pragma: no cover - no advisory locks there: no check
        return lock
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise DataDirInUse(
            f"another EMS process is already serving {path}; stop it, or give this one its own "
            "--data-dir"
        ) from None
    return lock


def _close_writer_connection(conn: sqlite3.Connection) -> None:
    # a clean shutdown leaves a small database: fold the WAL back and drop it
    try:
        conn.execute("PRAGMA optimize")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
