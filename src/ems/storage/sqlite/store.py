"""SqliteStore: the embedded default, one SQLite file in WAL mode.

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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, Literal, TypeVar

from ems.core.clock import Clock, SystemClock
from ems.core.errors import (
    DeadLetterQueueNotFound,
    InvalidAttribute,
    MessageTooLarge,
    QueueNotFound,
)
from ems.core.models import (
    DeadLetter,
    NewMessage,
    Outcome,
    PeekResult,
    QueueChanges,
    QueueConfig,
    QueueRecord,
    QueueStats,
    Receipt,
    ReceiveRequest,
    ReceiveResult,
    StoredMessage,
    SweepReport,
)
from ems.core.wakeups import Wakeups
from ems.storage.base import Store
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
class _Queue:
    record: QueueRecord
    partition: int
    dead_letter_key: int | None
    dead_letter_partition: int | None


def _queue_from_row(row: tuple[Any, ...]) -> _Queue:
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
    return _Queue(QueueRecord(key, config, created_at), partition, dl_key, dl_partition)


def _queue_in(txn: Txn, queue_hash: bytes) -> _Queue:
    """A queue as this batch sees it, looked up once per batch (found queues only)."""
    queue: _Queue | None = txn.memo.get(queue_hash)
    if queue is None:
        queue = txn.memo[queue_hash] = _lookup(txn.conn, queue_hash)
    return queue


def _lookup(conn: sqlite3.Connection, queue_hash: bytes) -> _Queue:
    row = conn.execute(Q["queue_by_hash"], (queue_hash,)).fetchone()
    if row is None:
        raise QueueNotFound()
    return _queue_from_row(row)


def _message(
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


def _connect(path: Path, synchronous: Synchronous, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA cache_size = -65536")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


class SqliteStore(Store):
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
        self._lock: IO[bytes] | None = None

    # lifecycle

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_data_dir(self.path)

        def connect_and_migrate() -> sqlite3.Connection:
            conn = _connect(self.path, self._synchronous, readonly=False)
            migrate(conn)
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

    async def create_queue(self, queue_hash: bytes, config: QueueConfig) -> QueueRecord:
        def operation(txn: Txn) -> QueueRecord:
            conn = txn.conn
            dl_key, max_receives, sealed = self._resolve_dead_letter(conn, config.dead_letter)
            partition = conn.execute(Q["new_partition"]).lastrowid
            key = conn.execute(
                Q["insert_queue"],
                (queue_hash, partition, config.visibility_timeout, config.retention_seconds,
                 config.max_message_bytes, config.delay_seconds, config.receive_wait_seconds,
                 dl_key, max_receives, sealed, txn.now_ms),
            ).lastrowid  # fmt: skip
            assert key is not None
            return QueueRecord(key, config, txn.now_ms)

        return await self._write(operation)

    @staticmethod
    def _resolve_dead_letter(
        conn: sqlite3.Connection, dead_letter: DeadLetter | None
    ) -> tuple[int | None, int | None, bytes | None]:
        if dead_letter is None:
            return None, None, None
        row = conn.execute(Q["queue_key_by_hash"], (dead_letter.queue_hash,)).fetchone()
        if row is None:
            raise DeadLetterQueueNotFound(
                "dead_letter.queue_id names no queue: create the dead-letter queue first and "
                "use its queue_id.",
                parameter="dead_letter",
            )
        return row[0], dead_letter.max_receives, dead_letter.sealed_queue_id

    async def get_queue(self, queue_hash: bytes) -> QueueRecord:
        record = self._cache.get(queue_hash)
        if record is not None:
            return record
        epoch = self._cache_epoch
        queue = await self._read(lambda conn: _lookup(conn, queue_hash))
        if epoch == self._cache_epoch:
            self._cache[queue_hash] = queue.record
        return queue.record

    async def queue_stats(self, queue_hash: bytes) -> QueueStats:
        def query(conn: sqlite3.Connection) -> QueueStats:
            queue = _lookup(conn, queue_hash)
            now = self.clock.now_ms()
            p = queue.partition
            (visible,) = conn.execute(Q["count_visible"], (p, now)).fetchone()
            (in_flight,) = conn.execute(Q["count_in_flight"], (p, now)).fetchone()
            (delayed,) = conn.execute(Q["count_delayed"], (p, now)).fetchone()
            oldest = conn.execute(Q["oldest_sent_at"], (p,)).fetchone()
            return QueueStats(visible, in_flight, delayed, oldest[0] if oldest else None)

        return await self._read(query)

    async def update_queue(self, queue_hash: bytes, changes: QueueChanges) -> QueueRecord:
        def operation(txn: Txn) -> QueueRecord:
            conn = txn.conn
            queue = _queue_in(txn, queue_hash)
            old = queue.record.config
            if changes.clear_dead_letter:
                dead_letter = None
            else:
                dead_letter = changes.dead_letter or old.dead_letter
            if dead_letter is not None and dead_letter.queue_hash == queue_hash:
                raise InvalidAttribute(
                    "A queue cannot be its own dead-letter queue.", parameter="dead_letter"
                )
            new = QueueConfig(
                visibility_timeout=_pick(changes.visibility_timeout, old.visibility_timeout),
                retention_seconds=_pick(changes.retention_seconds, old.retention_seconds),
                max_message_bytes=_pick(changes.max_message_bytes, old.max_message_bytes),
                delay_seconds=_pick(changes.delay_seconds, old.delay_seconds),
                receive_wait_seconds=_pick(changes.receive_wait_seconds, old.receive_wait_seconds),
                dead_letter=dead_letter,
            )
            dl_key, max_receives, sealed = self._resolve_dead_letter(conn, dead_letter)
            conn.execute(
                Q["update_queue"],
                (new.visibility_timeout, new.retention_seconds, new.max_message_bytes,
                 new.delay_seconds, new.receive_wait_seconds, dl_key, max_receives, sealed,
                 queue.record.key),
            )  # fmt: skip
            txn.memo.clear()
            txn.after_commit(lambda: self._forget(queue_hash))
            return QueueRecord(queue.record.key, new, queue.record.created_at_ms)

        return await self._write(operation)

    async def delete_queue(self, queue_hash: bytes) -> None:
        def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = _queue_in(txn, queue_hash)
            key = queue.record.key
            sources = [row[0] for row in conn.execute(Q["detach_dead_letter_sources"], (key,))]
            conn.execute(Q["delete_queue"], (key,))
            conn.execute(Q["retire_partition"], (queue.partition,))
            txn.memo.clear()

            def effect() -> None:
                self._forget(queue_hash, *sources)
                self.wakeups.notify_all(key)

            txn.after_commit(effect)

        await self._write(operation)

    async def purge_queue(self, queue_hash: bytes) -> None:
        def operation(txn: Txn) -> None:
            conn = txn.conn
            queue = _queue_in(txn, queue_hash)
            partition = conn.execute(Q["new_partition"]).lastrowid
            conn.execute(Q["repartition_queue"], (partition, queue.record.key))
            conn.execute(Q["retire_partition"], (queue.partition,))
            txn.memo.clear()

        await self._write(operation)

    # messages

    async def send(self, queue_hash: bytes, messages: Sequence[NewMessage]) -> None:
        if self._writer is None:
            raise RuntimeError("store is not open")
        await self._writer.submit_grouped(self._append, (queue_hash, messages))

    def _append(self, txn: Txn, sends: list[tuple[bytes, Sequence[NewMessage]]]) -> list[Any]:
        """All sends of a run in one INSERT: the hot path of the whole server."""
        conn, now = txn.conn, txn.now_ms
        rows: list[tuple[Any, ...]] = []
        results: list[Any] = []
        wake: dict[int, list[str | None]] = {}
        for queue_hash, messages in sends:
            try:
                queue = _queue_in(txn, queue_hash)
            except QueueNotFound as error:
                results.append(error)
                continue
            config = queue.record.config
            key, partition = queue.record.key, queue.partition
            default_delay, max_bytes = config.delay_seconds, config.max_message_bytes
            too_large = next((m for m in messages if m.size > max_bytes), None)
            if too_large is not None:
                results.append(
                    MessageTooLarge(
                        f"A message is {too_large.size} bytes (body plus attributes); this queue "
                        f"accepts at most {max_bytes}."
                    )
                )
                continue
            for message in messages:
                delay = default_delay if message.delay_seconds is None else message.delay_seconds
                if delay == 0:
                    wake.setdefault(key, []).append(message.correlation_id)
                attributes = (
                    json.dumps(message.attributes, separators=(",", ":"))
                    if message.attributes
                    else None
                )
                rows.append(
                    (partition, now + delay * 1000, now, message.message_id,
                     message.correlation_id, attributes, message.body)
                )  # fmt: skip
            results.append(None)
        if rows:
            conn.executemany(Q["insert_message"], rows)
        if wake:
            txn.after_commit(lambda: self._wake(wake))
        return results

    def _wake(self, receivable: dict[int, list[str | None]]) -> None:
        for key, correlation_ids in receivable.items():
            self.wakeups.notify(key, len(correlation_ids), correlation_ids)

    async def receive(self, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        # receive, delete and change-visibility write only after validating: no savepoint
        return await self._write(
            lambda txn: self._receive(txn, queue_hash, request), savepoint=False
        )

    def _receive(self, txn: Txn, queue_hash: bytes, request: ReceiveRequest) -> ReceiveResult:
        conn, now = txn.conn, txn.now_ms
        queue = _queue_in(txn, queue_hash)
        config = queue.record.config
        timeout = (
            config.visibility_timeout
            if request.visibility_timeout is None
            else request.visibility_timeout
        )
        visible_at = now + timeout * 1000
        cutoff = now - config.retention_seconds * 1000
        correlation_id = request.correlation_id
        max_receives = (
            config.dead_letter.max_receives
            if config.dead_letter is not None and queue.dead_letter_partition is not None
            else None
        )
        claimed: list[StoredMessage] = []
        claimed_seqs: set[int] = set()
        moved_correlations: list[str | None] = []
        while len(claimed) < request.max_messages:
            limit = request.max_messages - len(claimed)
            if correlation_id is None:
                rows = conn.execute(Q["receivable"], (queue.partition, now, cutoff, limit))
            else:
                rows = conn.execute(
                    Q["receivable_correlated"],
                    (queue.partition, correlation_id, now, cutoff, limit),
                )
            claims = []
            moves = []
            for row in rows.fetchall():
                seq, receive_count = row[0], row[5]
                if seq in claimed_seqs:
                    continue
                if max_receives is not None and receive_count >= max_receives:
                    moves.append((queue.dead_letter_partition, now, seq))
                    moved_correlations.append(row[3])
                    continue
                claims.append((visible_at, now, seq))
                claimed_seqs.add(seq)
                claimed.append(_message(row, visible_at, received_at=now))
            conn.executemany(Q["claim"], claims)
            if not moves:
                break
            conn.executemany(Q["dead_letter_move"], moves)
        if moved_correlations and queue.dead_letter_key is not None:
            dl_key, moved = queue.dead_letter_key, len(moved_correlations)
            txn.after_commit(lambda: self.wakeups.notify(dl_key, moved, moved_correlations))
        next_visible = None
        if not claimed:
            if correlation_id is None:
                (next_visible,) = conn.execute(Q["next_visible"], (queue.partition, now)).fetchone()
            else:
                (next_visible,) = conn.execute(
                    Q["next_visible_correlated"], (queue.partition, correlation_id, now)
                ).fetchone()
        return ReceiveResult(queue.record.key, claimed, next_visible)

    async def delete_messages(
        self, queue_hash: bytes, receipts: Sequence[Receipt]
    ) -> list[Outcome]:
        def operation(txn: Txn) -> list[Outcome]:
            conn = txn.conn
            queue = _queue_in(txn, queue_hash)
            outcomes = []
            for receipt in receipts:
                if receipt.queue_key != queue.record.key:
                    outcomes.append(Outcome.FOREIGN)
                    continue
                cursor = conn.execute(
                    Q["delete_receipt"], (receipt.seq, queue.partition, receipt.receive_count)
                )
                outcomes.append(
                    Outcome.DONE if cursor.rowcount == 1 else _why_not(conn, queue, receipt)
                )
            return outcomes

        return await self._write(operation, savepoint=False)

    async def change_visibility(
        self, queue_hash: bytes, changes: Sequence[tuple[Receipt, int]]
    ) -> list[Outcome]:
        def operation(txn: Txn) -> list[Outcome]:
            conn = txn.conn
            queue = _queue_in(txn, queue_hash)
            key = queue.record.key
            outcomes = []
            released = 0
            for receipt, timeout in changes:
                if receipt.queue_key != key:
                    outcomes.append(Outcome.FOREIGN)
                    continue
                cursor = conn.execute(
                    Q["change_visibility_receipt"],
                    (txn.now_ms + timeout * 1000, receipt.seq, queue.partition,
                     receipt.receive_count),
                )  # fmt: skip
                if cursor.rowcount == 1:
                    outcomes.append(Outcome.DONE)
                    released += timeout == 0
                else:
                    outcomes.append(_why_not(conn, queue, receipt))
            if released:
                txn.after_commit(lambda: self.wakeups.notify(key, released))
            return outcomes

        return await self._write(operation, savepoint=False)

    async def peek(self, queue_hash: bytes, *, after: int | None, limit: int) -> PeekResult:
        def query(conn: sqlite3.Connection) -> PeekResult:
            queue = _lookup(conn, queue_hash)
            cutoff = self.clock.now_ms() - queue.record.config.retention_seconds * 1000
            rows = conn.execute(Q["peek"], (queue.partition, after or 0, cutoff, limit)).fetchall()
            messages = [_message(row[:8], row[8]) for row in rows]
            next_after = messages[-1].seq if len(messages) == limit else None
            return PeekResult(messages, next_after)

        return await self._read(query)

    # housekeeping

    async def sweep(self) -> SweepReport:
        return await self._write(self._sweep)

    def _sweep(self, txn: Txn) -> SweepReport:
        conn = txn.conn
        budget = SWEEP_BUDGET
        dropped = 0
        for (partition,) in conn.execute(Q["retired_partitions"], (8,)).fetchall():
            removed = conn.execute(Q["delete_partition_chunk"], (partition, budget)).rowcount
            dropped += removed
            budget -= removed
            if budget <= 0:
                return SweepReport(dropped=dropped, more=True)
            conn.execute(Q["forget_partition"], (partition,))
        expired = 0
        queues = conn.execute(
            Q["queues_for_retention"], (self._retention_cursor, RETENTION_QUEUES_PER_SWEEP)
        ).fetchall()
        for key, partition, retention in queues:
            self._retention_cursor = key
            cutoff = txn.now_ms - retention * 1000
            oldest = conn.execute(Q["oldest_sent_at"], (partition,)).fetchone()
            if oldest is None or oldest[0] > cutoff:
                continue
            removed = conn.execute(Q["delete_expired_chunk"], (partition, budget, cutoff)).rowcount
            expired += removed
            budget -= removed
            if budget <= 0:
                return SweepReport(expired=expired, dropped=dropped, more=True)
        if len(queues) < RETENTION_QUEUES_PER_SWEEP:
            self._retention_cursor = 0
        return SweepReport(expired=expired, dropped=dropped, more=False)


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new


def _why_not(conn: sqlite3.Connection, queue: _Queue, receipt: Receipt) -> Outcome:
    state = conn.execute(Q["message_state"], (receipt.seq,)).fetchone()
    if state is None or state[0] != queue.partition:
        return Outcome.GONE
    return Outcome.STALE


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
