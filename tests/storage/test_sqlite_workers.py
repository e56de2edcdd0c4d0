"""Two SQLite stores sharing one file as the workers of ``ems serve --workers 2`` do.

Both stores live in this process: each has its own connections, locks (an flock conflicts
between two opens of a file even in one process), socket and wakeups, as two workers would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.models import Outcome, QueueConfig, Receipt, ReceiveRequest
from ems.core.wakeups import WOKEN
from ems.storage.base import StoreUnusable
from ems.storage.sqlite import SqliteStore
from ems.storage.sqlite.sharing import Sharing, lock_and_prepare
from tests.conformance.conftest import ids, message
from tests.conformance.test_topics import http_subscription, new_topic
from tests.conformance.test_topics import message as topic_message


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    path = tmp_path / "ems.sqlite3"
    lock = lock_and_prepare(path, quick_check=True)
    clock = ManualClock(1_700_000_000_000)
    supervisor = os.getpid()
    stores = [
        SqliteStore(path, clock=clock, sharing=Sharing(slot, 2, supervisor)) for slot in (0, 1)
    ]
    for store in stores:
        await store.open()
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            await store.close()
        lock.close()


async def new_queue(store: SqliteStore, **config: object) -> tuple[bytes, int]:
    queue_hash = os.urandom(32)
    record = await store.create_queue(ids(queue_hash), QueueConfig(**config))  # type: ignore[arg-type]
    return queue_hash, record.key


def test_the_parent_lock_still_refuses_a_separate_server(tmp_path: Path) -> None:
    path = tmp_path / "ems.sqlite3"
    lock = lock_and_prepare(path, quick_check=False)
    try:
        with pytest.raises(StoreUnusable, match="already serving"):
            lock_and_prepare(path, quick_check=False)

        async def open_alone() -> None:
            await SqliteStore(path).open()

        with pytest.raises(StoreUnusable, match="already serving"):
            asyncio.run(open_alone())
    finally:
        lock.close()


async def test_a_send_on_one_worker_wakes_a_long_poll_on_the_other(
    workers: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = workers
    queue_hash, key = await new_queue(a)
    version = a.wakeups.version(key)
    waiting = asyncio.create_task(a.wakeups.wait(key, None, 30, since_version=version))
    await asyncio.sleep(0.05)
    await b.send(queue_hash, [message(b"from b")])
    assert await asyncio.wait_for(waiting, 5) == WOKEN
    result = await a.receive(queue_hash, ReceiveRequest(max_messages=10))
    assert [m.body for m in result.messages] == [b"from b"]


async def test_a_queue_changed_on_one_worker_leaves_the_others_cache(
    workers: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = workers
    queue_hash, _ = await new_queue(a, visibility_timeout=30)
    assert (await b.get_queue(queue_hash)).config.visibility_timeout == 30  # cached in b
    await a.delete_queue(queue_hash)
    for _ in range(100):  # the news crosses a socket and b's loop
        await asyncio.sleep(0.01)
        if not b._cache:
            break
    assert not b._cache, "b forgot the deleted queue"


async def test_interleaved_sends_never_share_a_message_number(
    workers: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = workers
    queue_hash, _ = await new_queue(a)
    sends = [
        store.send(queue_hash, [message(f"{i}".encode()) for _ in range(3)])
        for i in range(40)
        for store in (a, b)
    ]
    await asyncio.gather(*sends)
    seen: list[int] = []
    for store in (a, b) * 20:
        received = await store.receive(queue_hash, ReceiveRequest(max_messages=10))
        seen += [m.seq for m in received.messages]
    assert len(seen) == 240
    assert len(set(seen)) == 240


async def test_one_worker_sweeps_at_a_time(workers: tuple[SqliteStore, SqliteStore]) -> None:
    a, b = workers
    queue_hash, _ = await new_queue(a, retention_seconds=60)
    await a.send(queue_hash, [message() for _ in range(5)])
    a.clock.advance(61)  # type: ignore[attr-defined]
    assert (await b.sweep()).expired == 5, "the first to sweep holds the housekeeping lock"
    await a.send(queue_hash, [message() for _ in range(5)])
    a.clock.advance(61)  # type: ignore[attr-defined]
    assert (await a.sweep()).expired == 0, "a does not sweep while b holds the lock"
    await b.close()  # b stops (or dies): the kernel drops its lock
    assert (await a.sweep()).expired == 5


async def test_two_workers_never_claim_the_same_push(
    workers: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = workers
    topic_hash = await new_topic(a)
    hook = await a.subscribe(topic_hash, http_subscription())
    for i in range(50):
        await (a if i % 2 else b).publish(topic_hash, topic_message(f"{i}".encode()))
    claims = await asyncio.gather(
        *(store.claim_deliveries(hook.key, 10, 60) for _ in range(10) for store in (a, b))
    )
    claimed = [task.delivery_key for tasks in claims for task in tasks]
    assert len(claimed) == 50
    assert len(set(claimed)) == 50, "no push is leased to two workers"


async def test_a_delete_on_one_worker_gives_the_others_streams_room(
    workers: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = workers
    queue_hash, key = await new_queue(a)
    await a.send(queue_hash, [message()])
    (received,) = (await a.receive(queue_hash, ReceiveRequest())).messages
    stream_waits = asyncio.create_task(a.releases.wait(key, 30, asyncio.Future()))
    await asyncio.sleep(0.05)
    receipt = Receipt(key, received.seq, received.receive_count)
    assert await b.delete_messages(queue_hash, [receipt]) == [Outcome.DONE]
    await asyncio.wait_for(stream_waits, 5)  # woken, not timed out
