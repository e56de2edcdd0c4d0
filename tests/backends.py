"""Every storage backend the conformance suite runs against, opened on real databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ems.core.clock import Clock
from ems.core.models import StorageLimits
from ems.storage.base import Store
from ems.storage.cipher import BodyCipher
from ems.storage.postgres import PostgresStore
from ems.storage.sqlite import SqliteStore
from tests import pg

# name -> factory(directory for files, clock, **options) -> an unopened store; calling a
# factory twice with the same directory gives a store on the same data (a restart). Options:
# cipher (BodyCipher | None) and limits (StorageLimits | None).
StoreFactory = Callable[..., Store]


def sqlite(
    directory: Path,
    clock: Clock,
    *,
    cipher: BodyCipher | None = None,
    limits: StorageLimits | None = None,
) -> Store:
    return SqliteStore(directory / "ems.sqlite3", clock=clock, cipher=cipher, limits=limits)


def postgres(
    directory: Path,
    clock: Clock,
    *,
    cipher: BodyCipher | None = None,
    limits: StorageLimits | None = None,
) -> Store:
    return PostgresStore(
        pg.patient(pg.database_url()),
        schema=pg.schema_for(directory),
        clock=clock,
        cipher=cipher,
        limits=limits,
        connect_timeout=5,
        pool_size=4,
    )


BACKENDS: dict[str, StoreFactory] = {"sqlite": sqlite, "postgres": postgres}
