"""Opening the SQLite file: one process per file, and a sentence for each reason it cannot be.

A refusal at start must tell the operator what to do in one line (``ems serve`` prints it and
exits with status 2): another process serves the file, the file is not SQLite or is damaged, it
or its directory is read-only, the disk is full. ``PRAGMA quick_check`` finds damaged pages
before the first request does.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from pathlib import Path
from typing import IO, Literal, Protocol

from ems.storage.base import StoreUnusable

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("ems.storage.sqlite")
Synchronous = Literal["FULL", "NORMAL", "OFF"]


class WriteLock(Protocol):
    """The lock workers sharing the file write under (``sharing.WriteLock``, which builds on
    this module: declared here so that the two do not import each other)."""

    def try_lock(self) -> bool: ...

    def release(self) -> None: ...


class DataDirInUse(StoreUnusable):
    """Another EMS process serves this SQLite file; two would corrupt each other's caches."""


def lock_data_dir(path: Path) -> IO[bytes]:
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


def unusable(path: Path, error: sqlite3.Error) -> StoreUnusable:
    """Why the database at ``path`` cannot be served, for the operator, from SQLite's error."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return StoreUnusable(
            f"{path} is not an SQLite database, or it is damaged ({error}); restore it from "
            "a backup, or move it away to start empty"
        )
    if code == sqlite3.SQLITE_READONLY:
        return StoreUnusable(
            f"{path} is read-only ({error}); EMS writes its database: make the file and "
            f"{path.parent} writable by this user"
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return StoreUnusable(f"cannot open {path} ({error}); check that {path.parent} is writable")
    if code == sqlite3.SQLITE_FULL:
        return StoreUnusable(f"the disk holding {path} is full; free some space")
    return StoreUnusable(f"cannot open the SQLite database {path}: {error}")


def check_pages(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check``: refuse to serve a damaged file rather than fail request by
    request. It reads every page (2.4 s for a 1 GB file of 1 MiB messages on the 2-core test
    machine, warm cache); ``--no-quick-check`` skips it."""
    started = time.monotonic()
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(10)")]
    if problems != ["ok"]:
        raise StoreUnusable(
            f"{path} is damaged: PRAGMA quick_check reports {problems[0]!r}"
            f"{f' and {len(problems) - 1} more problem(s)' if len(problems) > 1 else ''}; "
            "restore it from a backup, or start with --no-quick-check to serve it anyway"
        )
    elapsed = time.monotonic() - started
    log.log(
        logging.INFO if elapsed > 1 else logging.DEBUG,
        "quick_check of %s passed in %.1f s",
        path,
        elapsed,
    )


# sqlite3 binds int, float and str directly but asks every other parameter (bytes: bodies and
# queue hashes; None: the absent correlation ids, attributes, groups ...) whether it adapts
# itself, by attribute look-ups that fail, raising and formatting an AttributeError each time.
# Adapters for exactly these types (each returning its argument: bytes(b) is b) end that search
# at the first dict look-up. It was 11% of a batch send's instructions (docs/performance.md,
# "Hot path, issue 23"); subclasses still take the general path.
def _as_is(value: None) -> None:
    return value


sqlite3.register_adapter(bytes, bytes)
sqlite3.register_adapter(type(None), _as_is)


def connect(path: Path, synchronous: Synchronous, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA cache_size = -65536")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def close_writer_connection(conn: sqlite3.Connection, write_lock: WriteLock | None) -> None:
    # a clean shutdown leaves a small database: fold the WAL back and drop it. A worker sharing
    # the file does it only between the others' writes, and waits at most a second for their
    # readers (the others write meanwhile: the last worker to stop leaves the WAL empty)
    if write_lock is not None and not write_lock.try_lock():
        conn.close()
        return
    try:
        if write_lock is not None:
            conn.execute("PRAGMA busy_timeout = 1000")
        conn.execute("PRAGMA optimize")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as error:
        # (a full disk) the WAL stays, and is folded back at the next start
        log.warning("could not checkpoint the WAL on close: %s", error)
    finally:
        if write_lock is not None:
            write_lock.release()
        conn.close()
