"""SQS queue names in the SQLite store (see :class:`ems.core.models.SqsQueue`)."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.models import SqsQueue
from ems.storage.rows import sqs_queue_from_row, sqs_queue_values, sqs_tags_value
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class SqsOperations(SqliteBase):
    async def add_sqs_queue(self, entry: SqsQueue) -> SqsQueue:
        def operation(txn: Txn) -> SqsQueue:
            txn.conn.execute(Q["sqs_insert"], sqs_queue_values(entry))
            return sqs_queue_from_row(
                txn.conn.execute(Q["sqs_get"], (entry.account, entry.name)).fetchone()
            )

        return await self._write(operation)

    async def get_sqs_queue(self, account: str, name: str) -> SqsQueue | None:
        row = await self._read(lambda conn: conn.execute(Q["sqs_get"], (account, name)).fetchone())
        return None if row is None else sqs_queue_from_row(row)

    async def list_sqs_queues(
        self, account: str, *, prefix: str = "", after: str = "", limit: int = 1000
    ) -> list[SqsQueue]:
        rows = await self._read(
            lambda conn: conn.execute(Q["sqs_list"], (account, prefix, after, limit)).fetchall()
        )
        return [sqs_queue_from_row(row) for row in rows]

    async def update_sqs_queue(
        self,
        account: str,
        name: str,
        *,
        modified_at_ms: int,
        tags: Mapping[str, str] | None,
        policy: str | None = None,
    ) -> None:
        values = (modified_at_ms, sqs_tags_value(tags), policy, account, name)

        def operation(txn: Txn) -> None:
            txn.conn.execute(Q["sqs_touch"], values)

        await self._write(operation)

    async def delete_sqs_queue(self, account: str, name: str) -> None:
        def operation(txn: Txn) -> None:
            txn.conn.execute(Q["sqs_delete"], (account, name))

        await self._write(operation)
