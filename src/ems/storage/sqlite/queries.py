"""The named queries of the SQLite store (``sql/queries.sql``)."""

from __future__ import annotations

from typing import Final

from ems.storage.queries import load, subscription_reads

# the SQS FIFO statements live in a file of their own (see ems.storage.roles.sqs_fifo)
_SQL: Final = "ems.storage.sqlite.sql"
_QUERIES = {**load(_SQL), **load(_SQL, "sqs_fifo.sql")}
QUERIES: Final = {**_QUERIES, **subscription_reads(_QUERIES, "?")}
