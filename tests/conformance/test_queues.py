"""Queue lifecycle, as every Store must implement it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.errors import DeadLetterQueueNotFound, InvalidAttribute, QueueNotFound
from ems.core.models import DeadLetter, QueueChanges, QueueConfig, ReceiveRequest
from ems.storage.base import Store
from tests.backends import StoreFactory
from tests.conformance.conftest import NewQueue, ids, message, sweep_all


async def test_create_then_get_returns_the_config(store: Store) -> None:
    config = QueueConfig(
        visibility_timeout=5,
        retention_seconds=120,
        max_message_bytes=2048,
        delay_seconds=3,
        receive_wait_seconds=7,
    )
    queue_hash = os.urandom(32)
    created = await store.create_queue(ids(queue_hash), config)
    fetched = await store.get_queue(queue_hash)
    assert created.config == config
    assert fetched.config == config
    assert fetched.key == created.key


async def test_unknown_queue_is_not_found_for_every_operation(store: Store) -> None:
    missing = os.urandom(32)
    with pytest.raises(QueueNotFound):
        await store.get_queue(missing)
    with pytest.raises(QueueNotFound):
        await store.queue_stats(missing)
    with pytest.raises(QueueNotFound):
        await store.send(missing, [message()])
    with pytest.raises(QueueNotFound):
        await store.receive(missing, ReceiveRequest())
    with pytest.raises(QueueNotFound):
        await store.update_queue(missing, QueueChanges(delay_seconds=1))
    with pytest.raises(QueueNotFound):
        await store.delete_queue(missing)
    with pytest.raises(QueueNotFound):
        await store.purge_queue(missing)
    with pytest.raises(QueueNotFound):
        await store.peek(missing, after=None, limit=10)


async def test_update_changes_only_the_given_fields(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue(visibility_timeout=5, delay_seconds=2)
    updated = await store.update_queue(queue, QueueChanges(delay_seconds=9))
    assert updated.config.delay_seconds == 9
    assert updated.config.visibility_timeout == 5
    assert (await store.get_queue(queue)).config == updated.config


async def test_dead_letter_is_set_kept_and_cleared(store: Store, new_queue: NewQueue) -> None:
    dlq = await new_queue()
    queue = await new_queue()
    dead_letter = DeadLetter(queue_hash=dlq, max_receives=3, sealed_queue_id=b"sealed")
    await store.update_queue(queue, QueueChanges(dead_letter=dead_letter))
    assert (await store.get_queue(queue)).config.dead_letter == dead_letter
    # an update of another field keeps it
    await store.update_queue(queue, QueueChanges(visibility_timeout=1))
    assert (await store.get_queue(queue)).config.dead_letter == dead_letter
    await store.update_queue(queue, QueueChanges(clear_dead_letter=True))
    assert (await store.get_queue(queue)).config.dead_letter is None


async def test_dead_letter_must_name_an_existing_other_queue(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    missing = DeadLetter(queue_hash=os.urandom(32), max_receives=1, sealed_queue_id=b"")
    with pytest.raises(DeadLetterQueueNotFound):
        await store.create_queue(ids(os.urandom(32)), QueueConfig(dead_letter=missing))
    with pytest.raises(DeadLetterQueueNotFound):
        await store.update_queue(queue, QueueChanges(dead_letter=missing))
    itself = DeadLetter(queue_hash=queue, max_receives=1, sealed_queue_id=b"")
    with pytest.raises(InvalidAttribute):
        await store.update_queue(queue, QueueChanges(dead_letter=itself))
    assert (await store.get_queue(queue)).config.dead_letter is None


async def test_delete_makes_the_queue_gone_and_detaches_dead_letter_sources(
    store: Store, new_queue: NewQueue
) -> None:
    dlq = await new_queue()
    source = await new_queue(
        dead_letter=DeadLetter(queue_hash=dlq, max_receives=2, sealed_queue_id=b"s")
    )
    await store.send(dlq, [message()])
    await store.delete_queue(dlq)
    with pytest.raises(QueueNotFound):
        await store.get_queue(dlq)
    with pytest.raises(QueueNotFound):
        await store.send(dlq, [message()])
    with pytest.raises(QueueNotFound):
        await store.delete_queue(dlq)
    assert (await store.get_queue(source)).config.dead_letter is None


async def test_deleted_queue_messages_are_swept(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    await store.send(queue, [message() for _ in range(50)])
    await store.delete_queue(queue)
    assert (await sweep_all(store)).dropped == 50


async def test_purge_empties_the_queue_but_keeps_it(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    await store.send(queue, [message(f"old {i}") for i in range(5)])
    await store.receive(queue, ReceiveRequest(max_messages=2))
    await store.purge_queue(queue)
    stats = await store.queue_stats(queue)
    assert (stats.visible, stats.in_flight, stats.delayed) == (0, 0, 0)
    await store.send(queue, [message("new")])
    result = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert [m.body for m in result.messages] == [b"new"]
    report = await store.sweep()
    assert report.dropped == 5


async def test_stats_count_each_state_and_the_oldest(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    empty = await store.queue_stats(queue)
    assert (empty.visible, empty.in_flight, empty.delayed, empty.oldest_sent_at_ms) == (
        0,
        0,
        0,
        None,
    )
    first_sent = clock.now_ms()
    await store.send(queue, [message("a"), message("b"), message("c")])
    clock.advance(1)
    await store.send(queue, [message("later", delay_seconds=60)])
    await store.receive(queue, ReceiveRequest(max_messages=1))
    stats = await store.queue_stats(queue)
    assert (stats.visible, stats.in_flight, stats.delayed) == (2, 1, 1)
    assert stats.oldest_sent_at_ms == first_sent


async def test_server_secret_is_stable_across_calls_and_restarts(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    first = factory(tmp_path, clock)
    await first.open()
    secret = await first.server_secret("receipts")
    assert len(secret) == 32
    assert await first.server_secret("receipts") == secret
    assert await first.server_secret("other") != secret
    await first.close()
    second = factory(tmp_path, clock)
    await second.open()
    try:
        assert await second.server_secret("receipts") == secret
    finally:
        await second.close()
