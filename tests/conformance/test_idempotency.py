"""Idempotency keys, as every Store must keep them: durable, per queue, within the window."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.errors import QueueFull
from ems.core.idempotency import WINDOW_MS, KeyedSend, key_hash
from ems.core.models import NewMessage, QueueConfig, ReceiveRequest
from ems.storage.base import Store
from tests.backends import StoreFactory
from tests.conformance.conftest import NewQueue, ids, message, sweep_all
from tests.conformance.test_messages import receipt

K1, K2 = key_hash("order-1"), key_hash("order-2")


def keyed(*pairs: tuple[NewMessage, bytes | None]) -> KeyedSend:
    return KeyedSend([m for m, _ in pairs], [k for _, k in pairs])


async def bodies(store: Store, queue: bytes) -> list[bytes]:
    got = await store.receive(queue, ReceiveRequest(max_messages=10))
    return [m.body for m in got.messages]


async def test_a_repeat_within_the_window_stores_nothing_and_names_the_original(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    first, again = message("a"), message("a, retried")
    assert await store.send_idempotent(queue, keyed((first, K1)), WINDOW_MS) == [None]
    clock.advance(WINDOW_MS / 1000 - 1)
    assert await store.send_idempotent(queue, keyed((again, K1)), WINDOW_MS) == [first.message_id]
    assert await bodies(store, queue) == [b"a"]


async def test_the_key_is_remembered_after_its_message_is_deleted(
    store: Store, new_queue: NewQueue
) -> None:
    # ElasticMQ #354: a deduplication id was forgotten once its message was deleted
    queue = await new_queue()
    first = message("a")
    await store.send_idempotent(queue, keyed((first, K1)), WINDOW_MS)
    result = await store.receive(queue, ReceiveRequest())
    (got,) = result.messages
    await store.delete_messages(queue, [receipt(result.queue_key, got)])
    assert await store.send_idempotent(queue, keyed((message("b"), K1)), WINDOW_MS) == [
        first.message_id
    ]
    assert await bodies(store, queue) == []


async def test_after_the_window_the_key_is_free_again(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    await store.send_idempotent(queue, keyed((message("a"), K1)), WINDOW_MS)
    clock.advance(WINDOW_MS / 1000)
    assert await store.send_idempotent(queue, keyed((message("b"), K1)), WINDOW_MS) == [None]
    assert await bodies(store, queue) == [b"a", b"b"]


async def test_the_sweeper_forgets_expired_keys_only(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    old = message("old")
    await store.send_idempotent(queue, keyed((old, K1)), WINDOW_MS)
    clock.advance(WINDOW_MS / 1000 - 10)
    recent = message("recent")
    await store.send_idempotent(queue, keyed((recent, K2)), WINDOW_MS)
    clock.advance(10)
    await sweep_all(store)
    originals = await store.send_idempotent(
        queue, keyed((message("x"), K1), (message("y"), K2)), WINDOW_MS
    )
    assert originals == [None, recent.message_id]


async def test_keys_are_per_queue(store: Store, new_queue: NewQueue) -> None:
    one, two = await new_queue(), await new_queue()
    await store.send_idempotent(one, keyed((message("a"), K1)), WINDOW_MS)
    assert await store.send_idempotent(two, keyed((message("b"), K1)), WINDOW_MS) == [None]


async def test_a_batch_answers_per_entry_and_keeps_its_order(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    seen = message("seen")
    await store.send_idempotent(queue, keyed((seen, K1)), WINDOW_MS)
    a, b, c, d = message("a"), message("b"), message("c"), message("d")
    originals = await store.send_idempotent(
        queue, keyed((a, None), (b, K1), (c, K2), (d, K2)), WINDOW_MS
    )
    # b repeats an earlier send, d repeats c within the same batch
    assert originals == [None, seen.message_id, None, c.message_id]
    assert await bodies(store, queue) == [b"seen", b"a", b"c"]


async def test_a_refused_send_remembers_no_key(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue(max_stored_messages=1)
    await store.send(queue, [message("fills it")])
    with pytest.raises(QueueFull):
        await store.send_idempotent(queue, keyed((message("a"), K1)), WINDOW_MS)
    await store.receive(queue, ReceiveRequest())  # nothing frees room yet: delete it
    await store.purge_queue(queue)
    assert await store.send_idempotent(queue, keyed((message("a"), K1)), WINDOW_MS) == [None]


async def test_concurrent_repeats_store_one_message(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    sends = [message(f"try {i}") for i in range(20)]
    results = await asyncio.gather(
        *(store.send_idempotent(queue, keyed((m, K1)), WINDOW_MS) for m in sends)
    )
    stored = [m for m, (original,) in zip(sends, results, strict=True) if original is None]
    assert len(stored) == 1
    assert {original for (original,) in results} == {None, stored[0].message_id}
    assert await bodies(store, queue) == [stored[0].body]


async def test_the_window_survives_a_restart(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    first_store = factory(tmp_path, clock)
    await first_store.open()
    queue = os.urandom(32)
    first = message("a")
    try:
        await first_store.create_queue(ids(queue), QueueConfig())
        await first_store.send_idempotent(queue, keyed((first, K1)), WINDOW_MS)
    finally:
        await first_store.close()
    second = factory(tmp_path, clock)
    await second.open()
    try:
        originals = await second.send_idempotent(queue, keyed((message("b"), K1)), WINDOW_MS)
        assert originals == [first.message_id]
    finally:
        await second.close()


async def test_a_deleted_queue_takes_its_keys_along(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    await store.send_idempotent(queue, keyed((message("a"), K1)), WINDOW_MS)
    await store.delete_queue(queue)
    # a new queue (which may get the deleted one's internal key) starts with no keys
    fresh = await new_queue()
    assert await store.send_idempotent(fresh, keyed((message("b"), K1)), WINDOW_MS) == [None]
