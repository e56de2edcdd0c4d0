"""SNS topic names and the SNS signing key in the PostgreSQL store (see :mod:`ems.sns`)."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.sns_models import SnsTopic
from ems.storage.postgres.base import Conn, PostgresBase
from ems.storage.postgres.batcher import Txn
from ems.storage.postgres.queries import QUERIES as Q
from ems.storage.rows import compact_json, sns_topic_from_row, sns_topic_values


class SnsOperations(PostgresBase):
    async def server_value(self, name: str, candidate: bytes) -> bytes:
        async def operation(txn: Txn) -> bytes:
            await txn.conn.execute(Q["meta_insert"], f"value:{name}", candidate)
            return bytes(await txn.conn.fetchval(Q["meta_get"], f"value:{name}"))

        return await self._write(operation)

    async def add_sns_topic(self, entry: SnsTopic) -> SnsTopic:
        async def operation(txn: Txn) -> SnsTopic:
            await txn.conn.execute(Q["sns_insert"], *sns_topic_values(entry))
            row = await txn.conn.fetchrow(Q["sns_get"], entry.account, entry.name)
            assert row is not None  # inserted, or already there, in this transaction
            return sns_topic_from_row(row)

        return await self._write(operation)

    async def get_sns_topic(self, account: str, name: str) -> SnsTopic | None:
        async def query(conn: Conn) -> SnsTopic | None:
            row = await conn.fetchrow(Q["sns_get"], account, name)
            return None if row is None else sns_topic_from_row(row)

        return await self._read(query)

    async def list_sns_topics(
        self, account: str, *, after: str = "", limit: int = 100
    ) -> list[SnsTopic]:
        async def query(conn: Conn) -> list[SnsTopic]:
            rows = await conn.fetch(Q["sns_list"], account, after, limit)
            return [sns_topic_from_row(row) for row in rows]

        return await self._read(query)

    async def update_sns_topic(
        self, account: str, name: str, *, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        async def operation(txn: Txn) -> None:
            await txn.conn.execute(
                Q["sns_update"], compact_json(attributes), compact_json(tags), account, name
            )

        await self._write(operation)

    async def delete_sns_topic(self, account: str, name: str) -> None:
        async def operation(txn: Txn) -> None:
            await txn.conn.execute(Q["sns_delete"], account, name)

        await self._write(operation)
