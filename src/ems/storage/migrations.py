"""What both stores' migrations share: numbered SQL files and the refusal of newer schemas.

Each backend keeps ``sql/migrations/NNNN_*.sql`` (applied in order) and ``sql/schema.sql`` (the
current schema in full; a test checks that migrating from nothing produces exactly it), and
applies them in its own way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from ems.storage.base import StoreUnusable

_FILE = re.compile(r"(\d{4})_\w+\.sql")


class SchemaTooNew(StoreUnusable):
    """The database was written by a newer EMS; starting would risk damaging it."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(sql_package: str) -> list[Migration]:
    """The migrations in ``<sql_package>.migrations``, in order, numbered 1..n without gaps."""
    found = []
    for entry in files(f"{sql_package}.migrations").iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps; found {versions}")
    return found


def read_schema(sql_package: str) -> str:
    return (files(sql_package) / "schema.sql").read_text()
