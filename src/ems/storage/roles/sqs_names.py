"""SQS queue names (see :class:`ems.core.models.SqsQueue`), for every driver."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.models import SqsQueue
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.name_rows import sqs_queue_from_row, sqs_queue_values, sqs_tags_value


class SqsNames(Driver):
    async def add_sqs_queue(self, entry: SqsQueue) -> SqsQueue:
        async def operation(txn: Transaction) -> SqsQueue:
            await txn.db.run("sqs_insert", *sqs_queue_values(entry))
            row = await txn.db.row("sqs_get", entry.account, entry.name)
            assert row is not None  # inserted, or already there, in this transaction
            return sqs_queue_from_row(row)

        return await self._transact(operation)

    async def get_sqs_queue(self, account: str, name: str) -> SqsQueue | None:
        async def query(db: Statements) -> SqsQueue | None:
            row = await db.row("sqs_get", account, name)
            return None if row is None else sqs_queue_from_row(row)

        return await self._query(query)

    async def list_sqs_queues(
        self, account: str, *, prefix: str = "", after: str = "", limit: int = 1000
    ) -> list[SqsQueue]:
        async def query(db: Statements) -> list[SqsQueue]:
            rows = await db.rows("sqs_list", account, prefix, after, limit)
            return [sqs_queue_from_row(row) for row in rows]

        return await self._query(query)

    async def update_sqs_queue(
        self,
        account: str,
        name: str,
        *,
        modified_at_ms: int,
        tags: Mapping[str, str] | None,
        policy: str | None = None,
    ) -> None:
        async def operation(txn: Transaction) -> None:
            await txn.db.run(
                "sqs_touch", modified_at_ms, sqs_tags_value(tags), policy, account, name
            )

        await self._transact(operation)

    async def delete_sqs_queue(self, account: str, name: str) -> None:
        async def operation(txn: Transaction) -> None:
            await txn.db.run("sqs_delete", account, name)

        await self._transact(operation)
