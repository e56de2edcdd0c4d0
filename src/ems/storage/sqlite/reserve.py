"""Room to drain: a file of reserved space beside the database, given up when the disk fills.

In WAL mode every write appends to the write-ahead log first, a delete as much as a send. On a
full disk nothing can be appended, so consumers could not even delete what they had processed,
and deleting is what frees the space. So the store keeps some disk in a file next to the
database (``--disk-reserve-bytes``, 16 MiB). When a commit fails for want of space, the file is
deleted: that is room for the log to grow and for a checkpoint to move it into the database,
after which the log is rewritten in place. Sends and publishes stay refused meanwhile
(:meth:`StorageHealth.check_room`), so the room goes to receives and deletes, until the store
finds room again: free disk plus the pages deletes freed inside the database (which later sends
reuse). The reserve is made again once the disk has twice its size free.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger("ems.storage.sqlite")


class SpaceReserve:
    """``size`` bytes kept beside ``database``; 0 keeps none."""

    def __init__(self, database: Path, size: int) -> None:
        self.path = database.with_name(database.name + "-reserve")
        self.size = size
        self.held = False

    def ensure(self) -> None:
        """Make the reserve if it is missing and the disk can spare it twice over."""
        if self.held or not self.size:
            return
        with contextlib.suppress(OSError):
            if self.path.stat().st_size >= self.size:
                self.held = True
                return
        allocate = getattr(os, "posix_fallocate", None)
        if allocate is None:
            return  # not on this platform: a full disk then stops receives too
        if self.disk_free() < 2 * self.size:
            return
        try:
            with self.path.open("wb") as file:
                # allocated for real: a sparse file would reserve nothing
                allocate(file.fileno(), 0, self.size)
        except OSError as error:
            log.debug("no disk space reserve (%s)", error)
            with contextlib.suppress(OSError):
                self.path.unlink()
            return
        self.held = True

    def disk_free(self) -> int:
        """Bytes free on the disk for this user (0 where the platform cannot say)."""
        try:
            stats = os.statvfs(self.path.parent)
        except (OSError, AttributeError):
            return 0
        return stats.f_bavail * stats.f_frsize

    def release(self) -> None:
        """Give the reserved space back to the disk."""
        self.held = False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        log.warning(
            "released the %d MiB disk space reserve, so that receives and deletes can go on",
            self.size // (1024 * 1024),
        )
