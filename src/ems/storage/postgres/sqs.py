"""SQS queue names in the PostgreSQL store (see :class:`ems.core.models.SqsQueue`)."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.models import SqsQueue
from ems.storage.postgres.base import Conn, PostgresBase
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import sqs_queue_from_row, sqs_queue_values, sqs_tags_value


class SqsOperations(PostgresBase):
    async def add_sqs_queue(self, entry: SqsQueue) -> SqsQueue:
        async def operation(txn: Txn) -> SqsQueue:
            await txn.conn.execute(Q["sqs_insert"], *sqs_queue_values(entry))
            row = await txn.conn.fetchrow(Q["sqs_get"], entry.account, entry.name)
            assert row is not None  # inserted, or already there, in this transaction
            return sqs_queue_from_row(row)

        return await self._write(operation)

    async def get_sqs_queue(self, account: str, name: str) -> SqsQueue | None:
        async def query(conn: Conn) -> SqsQueue | None:
            row = await conn.fetchrow(Q["sqs_get"], account, name)
            return None if row is None else sqs_queue_from_row(row)

        return await self._read(query)

    async def list_sqs_queues(
        self, account: str, *, prefix: str = "", after: str = "", limit: int = 1000
    ) -> list[SqsQueue]:
        async def query(conn: Conn) -> list[SqsQueue]:
            rows = await conn.fetch(Q["sqs_list"], account, prefix, after, limit)
            return [sqs_queue_from_row(row) for row in rows]

        return await self._read(query)

    async def update_sqs_queue(
        self,
        account: str,
        name: str,
        *,
        modified_at_ms: int,
        tags: Mapping[str, str] | None,
        policy: str | None = None,
    ) -> None:
        async def operation(txn: Txn) -> None:
            await txn.conn.execute(
                Q["sqs_touch"], modified_at_ms, sqs_tags_value(tags), policy, account, name
            )

        await self._write(operation)

    async def delete_sqs_queue(self, account: str, name: str) -> None:
        async def operation(txn: Txn) -> None:
            await txn.conn.execute(Q["sqs_delete"], account, name)

        await self._write(operation)
