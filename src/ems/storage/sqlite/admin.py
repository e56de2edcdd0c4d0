"""The SQLite store's part of what operators see (the rest: :mod:`ems.storage.roles.admin`):
its dialect for the console's queue pages, and the database file's size and place."""

from __future__ import annotations

import os
from pathlib import Path

from ems.storage.engine.statements import Statements
from ems.storage.roles.admin import AdminViews
from ems.storage.sqlite.base import SqliteBase


class AdminOperations(SqliteBase, AdminViews):
    _QUEUES_MATCHING = """
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE (?1 IS NULL AND ?2 IS NULL) OR instr(lower(q.label), ?1) > 0
   OR substr(q.id_hash, 1, length(?2)) = ?2"""
    _LIMIT_OFFSET = "LIMIT ?3 OFFSET ?4"

    async def _whereabouts(self, db: Statements) -> tuple[int, str]:
        pages = await db.value("storage_size")
        wal = _size(self.path.with_name(self.path.name + "-wal"))
        return pages + wal, str(self.path)


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
