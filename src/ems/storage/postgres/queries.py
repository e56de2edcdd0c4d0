"""The PostgreSQL store's named queries (``sql/queries.sql``)."""

from __future__ import annotations

from typing import Final

from ems.storage.queries import load

QUERIES: Final = load("ems.storage.postgres.sql")
