"""SNS topic names and the SNS signing key in the SQLite store (see :mod:`ems.sns`)."""

from __future__ import annotations

from collections.abc import Mapping

from ems.core.sns_models import SnsTopic
from ems.storage.rows import compact_json, sns_topic_from_row, sns_topic_values
from ems.storage.sqlite.base import SqliteBase
from ems.storage.sqlite.queries import QUERIES as Q
from ems.storage.sqlite.writer import Txn


class SnsOperations(SqliteBase):
    async def server_value(self, name: str, candidate: bytes) -> bytes:
        def operation(txn: Txn) -> bytes:
            txn.conn.execute(Q["meta_insert"], (f"value:{name}", candidate))
            (value,) = txn.conn.execute(Q["meta_get"], (f"value:{name}",)).fetchone()
            return bytes(value)

        return await self._write(operation)

    async def add_sns_topic(self, entry: SnsTopic) -> SnsTopic:
        def operation(txn: Txn) -> SnsTopic:
            txn.conn.execute(Q["sns_insert"], sns_topic_values(entry))
            return sns_topic_from_row(
                txn.conn.execute(Q["sns_get"], (entry.account, entry.name)).fetchone()
            )

        return await self._write(operation)

    async def get_sns_topic(self, account: str, name: str) -> SnsTopic | None:
        row = await self._read(lambda conn: conn.execute(Q["sns_get"], (account, name)).fetchone())
        return None if row is None else sns_topic_from_row(row)

    async def list_sns_topics(
        self, account: str, *, after: str = "", limit: int = 100
    ) -> list[SnsTopic]:
        rows = await self._read(
            lambda conn: conn.execute(Q["sns_list"], (account, after, limit)).fetchall()
        )
        return [sns_topic_from_row(row) for row in rows]

    async def update_sns_topic(
        self, account: str, name: str, *, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        values = (compact_json(attributes), compact_json(tags), account, name)

        def operation(txn: Txn) -> None:
            txn.conn.execute(Q["sns_update"], values)

        await self._write(operation)

    async def delete_sns_topic(self, account: str, name: str) -> None:
        def operation(txn: Txn) -> None:
            txn.conn.execute(Q["sns_delete"], (account, name))

        await self._write(operation)
