"""Every storage backend the conformance suite runs against, opened on real databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ems.core.clock import Clock
from ems.storage.base import Store
from ems.storage.sqlite import SqliteStore

# name -> factory(directory for files, clock) -> an unopened store; calling a factory twice
# with the same directory gives a store on the same data (a restart)
StoreFactory = Callable[[Path, Clock], Store]


def sqlite(directory: Path, clock: Clock) -> Store:
    return SqliteStore(directory / "ems.sqlite3", clock=clock)


BACKENDS: dict[str, StoreFactory] = {"sqlite": sqlite}
