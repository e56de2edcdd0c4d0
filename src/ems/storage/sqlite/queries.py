"""The named queries of the SQLite store (``sql/queries.sql``)."""

from __future__ import annotations

from typing import Final

from ems.storage.queries import load

QUERIES: Final = load("ems.storage.sqlite.sql")
