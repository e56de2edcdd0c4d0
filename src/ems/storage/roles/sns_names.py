"""SNS topic names and the values kept for SNS (its signing key), for every driver."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.sns_models import SnsTopic
from ems.storage.engine.statements import Driver, Statements, Transaction
from ems.storage.name_rows import compact_json, sns_topic_from_row, sns_topic_values


class SnsNames(Driver):
    async def server_value(self, name: str, candidate: bytes) -> bytes:
        async def operation(txn: Transaction) -> bytes:
            await txn.db.run("meta_insert", f"value:{name}", candidate)
            return bytes(await txn.db.value("meta_get", f"value:{name}"))

        return await self._transact(operation)

    async def add_sns_topic(self, entry: SnsTopic) -> SnsTopic:
        async def operation(txn: Transaction) -> SnsTopic:
            await txn.db.run("sns_insert", *sns_topic_values(entry))
            row = await txn.db.row("sns_get", entry.account, entry.name)
            assert row is not None  # inserted, or already there, in this transaction
            return sns_topic_from_row(row)

        return await self._transact(operation)

    async def get_sns_topic(self, account: str, name: str) -> SnsTopic | None:
        async def query(db: Statements) -> SnsTopic | None:
            row = await db.row("sns_get", account, name)
            return None if row is None else sns_topic_from_row(row)

        return await self._query(query)

    async def list_sns_topics(
        self, account: str, *, after: str = "", limit: int = 100
    ) -> list[SnsTopic]:
        async def query(db: Statements) -> list[SnsTopic]:
            return [
                sns_topic_from_row(row) for row in await db.rows("sns_list", account, after, limit)
            ]

        return await self._query(query)

    async def update_sns_topic(
        self, account: str, name: str, *, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        async def operation(txn: Transaction) -> None:
            await txn.db.run(
                "sns_update", compact_json(attributes), compact_json(tags), account, name
            )

        await self._transact(operation)

    async def delete_sns_topic(self, account: str, name: str) -> None:
        async def operation(txn: Transaction) -> None:
            await txn.db.run("sns_delete", account, name)

        await self._transact(operation)
