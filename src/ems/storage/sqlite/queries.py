"""The named queries of the SQLite store (``sql/queries.sql``)."""

from __future__ import annotations

from typing import Final

from ems.storage.queries import load

# the SQS FIFO statements live in a file of their own (see ems.storage.roles.sqs_fifo)
_SQL: Final = "ems.storage.sqlite.sql"
QUERIES: Final = {**load(_SQL), **load(_SQL, "sqs_fifo.sql")}
