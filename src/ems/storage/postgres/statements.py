"""The PostgreSQL driver's :class:`~ems.storage.engine.statements.Statements` (asyncpg)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ems.storage.engine.statements import Row
from ems.storage.postgres.queries import QUERIES as Q

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy


class PostgresStatements:
    __slots__ = ("conn",)

    def __init__(self, conn: PoolConnectionProxy[Any]) -> None:
        self.conn = conn

    async def row(self, name: str, *args: Any) -> Row | None:
        row: Row | None = await self.conn.fetchrow(Q[name], *args)
        return row

    async def rows(self, name: str, *args: Any) -> list[Row]:
        return list(await self.conn.fetch(Q[name], *args))

    async def value(self, name: str, *args: Any) -> Any:
        return await self.conn.fetchval(Q[name], *args)

    async def run(self, name: str, *args: Any) -> int:
        status = await self.conn.execute(Q[name], *args)
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count is the last word
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def query(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.conn.fetch(sql, *args))
