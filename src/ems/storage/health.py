"""Whether the store can take writes now, as the last commits found it.

Readiness (``/readyz``) must follow the database, not the process: a load balancer that keeps
sending to a node whose database is away, full or frozen only turns an outage into timeouts.
Nothing here polls the database. The write paths report what they see: a commit that fails
for a reason outside the request (the server is unreachable, the disk is full, a statement timed
out) marks the store unavailable with that reason; the next commit that succeeds marks it
available again. Each outage is logged once when it starts and once when it ends, so an outage
of an hour is two log lines, not one per request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Final

from ems.core.errors import StorageFull

log = logging.getLogger("ems.storage")

DISK_FULL: Final = "disk-full"


@dataclass(frozen=True, slots=True)
class Outage:
    """Why the store cannot take writes, and since when (``time.monotonic()``)."""

    reason: str
    # a stable word for the kind of outage (e.g. "unreachable", "disk-full"), for metrics
    kind: str
    since: float


class StorageHealth:
    """The store's write health: ``None`` while healthy, else the current :class:`Outage`."""

    def __init__(self) -> None:
        self.outage: Outage | None = None

    @property
    def healthy(self) -> bool:
        return self.outage is None

    def failed(self, kind: str, reason: str) -> None:
        """A write failed for a reason that is not the request's: the store is unavailable."""
        if self.outage is not None and self.outage.kind == kind:
            return
        self.outage = Outage(reason, kind, time.monotonic())
        log.warning(
            "storage unavailable (%s): %s; /readyz answers 503 until it recovers", kind, reason
        )

    def recovered(self) -> None:
        """A write succeeded: the store is available again."""
        outage = self.outage
        if outage is None:
            return
        self.outage = None
        log.warning(
            "storage available again after %.1f s (%s)",
            time.monotonic() - outage.since,
            outage.kind,
        )

    def check_room(self) -> None:
        """Before a write that needs new space (a send, a publish): refuse it with StorageFull
        while the disk is full.

        Refusing early keeps such writes out of the shared transactions, whose commit they
        would fail, so that receives and deletes (which need little or no new space) keep
        committing and consumers can drain. The store decides when there is room again.
        """
        outage = self.outage
        if outage is not None and outage.kind == DISK_FULL:
            raise StorageFull()
