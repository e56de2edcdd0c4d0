"""One SQLite file served by the worker processes of one ``ems serve --workers N``.

The parent process holds the data directory's lock (opening.py), so a second, separate
``ems serve`` is still refused; it also migrates the file and releases leases a dead server left
(:func:`prepare_shared_file`) before it starts the workers, so that a restarted worker never
takes over pushes another live worker is making. Each worker then opens the file with a
:class:`Sharing` and:

- writes under :class:`WriteLock`, an ``flock`` taken (in the commit thread) before ``BEGIN
  IMMEDIATE`` and given back after ``COMMIT``: writers queue in the kernel and wake the moment
  the lock is free, where SQLite's own busy handler would sleep in steps of up to 100 ms and,
  on the event loop, stop it. The busy timeout stays as the backstop, so SQLITE_BUSY does not
  reach a client;
- tells the other workers what its commits changed through :class:`~ems.storage.sqlite.peers.
  Peers` (long polls to wake, cached queues and topics to forget);
- sweeps only while it holds the housekeeping lock (:class:`HousekeepingLock`): one worker at
  a time, and another takes over when the holder dies (the kernel drops a dead process's locks).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ems.storage.base import StoreUnusable
from ems.storage.sqlite.migrations import migrate
from ems.storage.sqlite.opening import check_pages, lock_data_dir, unusable
from ems.storage.sqlite.queries import QUERIES as Q

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("ems.storage.sqlite")


@dataclass(frozen=True, slots=True)
class Sharing:
    """This process is worker ``slot`` (0 .. ``workers`` - 1) of the server using the file,
    whose supervising process is ``supervisor`` (a pid: it names the workers' sockets)."""

    slot: int
    workers: int
    supervisor: int


def prepare_shared_file(path: Path, *, quick_check: bool) -> None:
    """What a single server does once at open, done by the parent before any worker starts."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        if quick_check:
            check_pages(conn, path)
        migrate(conn)
        # the parent holds the data-dir lock, so leases still held are a dead server's
        conn.execute(Q["release_leases"])
        conn.execute(Q["release_move_leases"])
    finally:
        conn.close()


def lock_and_prepare(path: Path, quick_check: bool) -> IO[bytes]:
    """Lock the data directory for all the workers and prepare the file; the lock (held until
    this process ends or closes it). StoreUnusable says why the file cannot be served."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = lock_data_dir(path)
    except OSError as error:
        raise StoreUnusable(
            f"cannot use the data directory {path.parent}: {error.strerror}"
        ) from None
    try:
        prepare_shared_file(path, quick_check=quick_check)
    except sqlite3.Error as error:
        lock.close()
        raise unusable(path, error) from None
    except StoreUnusable:
        lock.close()
        raise
    return lock


class _FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - held until close()
        return self._file

    def try_lock(self) -> bool:
        """Take the lock if it is free (one system call: fit for the event loop)."""
        if sys.platform == "win32":  # pragma: no cover - no workers there
            return True
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class WriteLock(_FileLock):
    """Taken around every write transaction of every worker (blocking: call it off the loop)."""

    def __init__(self, database: Path) -> None:
        super().__init__(database.with_name(database.name + ".write-lock"))

    def acquire(self) -> None:
        if sys.platform != "win32":
            fcntl.flock(self._open(), fcntl.LOCK_EX)

    def release(self) -> None:
        if sys.platform != "win32" and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)


class HousekeepingLock(_FileLock):
    """Held by the one worker that sweeps; kept until that worker stops or dies."""

    def __init__(self, database: Path) -> None:
        super().__init__(database.with_name(database.name + ".housekeeping-lock"))
        self.held = False

    def try_hold(self) -> bool:
        if self.held:
            return True
        if not self.try_lock():
            return False
        self.held = True
        log.debug("this worker does the housekeeping now")
        return True

    def close(self) -> None:
        self.held = False
        super().close()
