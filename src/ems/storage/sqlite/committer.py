"""The commit thread of the group-commit writer (writer.py).

COMMIT waits on fsync; run here, it leaves the event loop free to serve (and to gather the next
batch). Workers sharing the file (sharing.py) also wait here for the write lock, and give it back
here right after their COMMIT.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture

from ems.storage.sqlite.sharing import WriteLock

log = logging.getLogger("ems.storage.sqlite")


class Committer:
    """A thread that runs COMMIT, so the event loop keeps serving while the disk syncs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._work: tuple[ThreadFuture[None], Callable[[], None]] | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="ems-sqlite-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def commit(self, *, unlock: WriteLock | None = None) -> ThreadFuture[None]:
        """COMMIT, then give back the write lock (if the transaction holds one)."""

        def commit() -> None:
            try:
                self._conn.execute("COMMIT")
            finally:
                if unlock is not None:
                    self._give_back(unlock)

        return self.run(commit)

    def _give_back(self, lock: WriteLock) -> None:
        try:
            if self._conn.in_transaction:  # the COMMIT failed: roll back before unlocking
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("ROLLBACK failed")
        finally:
            lock.release()

    def run(self, work: Callable[[], None]) -> ThreadFuture[None]:
        future: ThreadFuture[None] = ThreadFuture()
        with self._wake:
            self._work = (future, work)
            self._wake.notify()
        return future

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._work is None and not self._stopped:
                    self._wake.wait()
                if self._work is None:
                    return
                (future, work), self._work = self._work, None
            try:
                work()
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(None)
