"""Dead rows do not pile up: with autovacuum off, EMS vacuums its own tables; with it on, EMS
leaves that to autovacuum."""

from __future__ import annotations

import asyncio
import os

import asyncpg

from ems.core.models import QueueConfig
from ems.storage.postgres import PostgresStore
from tests import pg
from tests.conformance.conftest import ids, message, sweep_all


async def messages_stats(conn: asyncpg.Connection, schema: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables "
        "WHERE schemaname = $1 AND relname = 'messages'",
        schema,
    )
    assert row is not None
    return row


async def test_dead_rows_are_vacuumed_when_autovacuum_is_off() -> None:
    schema = "v_" + os.urandom(6).hex()
    store = PostgresStore(pg.database_url(), schema=schema)
    await store.open()
    conn = await asyncpg.connect(pg.database_url())
    try:
        autovacuum = await conn.fetchval("SHOW autovacuum")
        queue = os.urandom(32)
        await store.create_queue(ids(queue), QueueConfig())
        for _ in range(15):
            await store.send(queue, [message(b"x" * 100) for _ in range(1000)])
        await store.purge_queue(queue)
        await sweep_all(store)
        for _ in range(100):  # the statistics reach pg_stat_user_tables within a second or two
            if (await messages_stats(conn, schema))["n_dead_tup"] >= 15_000:
                break
            await asyncio.sleep(0.1)
        before = await messages_stats(conn, schema)
        assert before["n_dead_tup"] >= 15_000

        store._vacuum_due = 0.0  # the sweeps above checked before the statistics arrived
        await store.sweep()

        after = await messages_stats(conn, schema)
        if autovacuum == "off":
            assert after["vacuum_count"] == before["vacuum_count"] + 1
            assert after["n_dead_tup"] < 1000
            await store.sweep()  # checked again only after a pause: no vacuum per sweep
            assert (await messages_stats(conn, schema))["vacuum_count"] == after["vacuum_count"]
        else:
            assert after["vacuum_count"] == before["vacuum_count"]
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
        await store.close()
