"""The PostgreSQL store's part of what operators see (the rest: :mod:`ems.storage.roles.admin`):
its dialect for the console's queue pages, and which database server this node talks to."""

from __future__ import annotations

from typing import Any

from ems.storage.engine.statements import Statements
from ems.storage.postgres.base import PostgresBase
from ems.storage.roles.admin import AdminViews


class AdminOperations(PostgresBase, AdminViews):
    _QUEUES_MATCHING = """
FROM queues q LEFT JOIN queues d ON d.key = q.dead_letter_key
WHERE ($1::text IS NULL AND $2::bytea IS NULL) OR position($1::text in lower(q.label)) > 0
   OR substring(q.id_hash from 1 for length($2::bytea)) = $2::bytea"""
    _LIMIT_OFFSET = "LIMIT $3 OFFSET $4"

    async def _whereabouts(self, db: Statements) -> tuple[int, str]:
        server: Any = await db.row("admin_database")
        size, address, port, database, standby = server
        where = f"{address}:{port}" if address else "a Unix socket"
        role = "standby" if standby else "primary"
        return size, f"PostgreSQL at {where}, database {database} ({role})"
