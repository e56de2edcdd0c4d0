"""Scoped capabilities, quotas, storage limits, administration and at-rest encryption, as every
Store must implement them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.errors import QueueFull, QueueNotFound, QuotaExceeded, StorageUnavailable
from ems.core.models import (
    DeadLetter,
    IdScope,
    QueueCapabilities,
    QueueConfig,
    Receipt,
    ReceiveRequest,
    StorageLimits,
)
from ems.core.topic_models import TopicConfig
from ems.storage.base import Store
from ems.storage.cipher import BodyCipher
from tests.backends import StoreFactory
from tests.conformance.conftest import NewQueue, message, sweep_all


async def test_each_id_reaches_the_queue_with_its_scope(store: Store) -> None:
    full, send, receive = os.urandom(32), os.urandom(32), os.urandom(32)
    created = await store.create_queue(QueueCapabilities(full, send, receive), QueueConfig())
    for hash_, scope in ((full, IdScope.FULL), (send, IdScope.SEND), (receive, IdScope.RECEIVE)):
        record = await store.get_queue(hash_)
        assert (record.key, record.scope) == (created.key, scope)
    # every operation accepts any of the ids: scopes are the service's to enforce
    await store.send(send, [message("via send id")])
    got = await store.receive(receive, ReceiveRequest())
    assert [m.body for m in got.messages] == [b"via send id"]


async def test_rotation_replaces_the_scoped_ids(store: Store) -> None:
    full, send, receive = os.urandom(32), os.urandom(32), os.urandom(32)
    await store.create_queue(QueueCapabilities(full, send, receive), QueueConfig())
    await store.get_queue(send)  # cached now: rotation must forget it
    new_send, new_receive = os.urandom(32), os.urandom(32)
    await store.rotate_queue(full, new_send, new_receive)
    for old in (send, receive):
        with pytest.raises(QueueNotFound):
            await store.get_queue(old)
        with pytest.raises(QueueNotFound):
            await store.send(old, [message()])
    assert (await store.get_queue(new_send)).scope is IdScope.SEND
    assert (await store.get_queue(new_receive)).scope is IdScope.RECEIVE
    assert (await store.get_queue(full)).scope is IdScope.FULL


async def test_a_send_id_names_a_dead_letter_queue(store: Store) -> None:
    dlq_send = os.urandom(32)
    await store.create_queue(
        QueueCapabilities(os.urandom(32), dlq_send, os.urandom(32)), QueueConfig()
    )
    source = QueueCapabilities(os.urandom(32), os.urandom(32), os.urandom(32))
    record = await store.create_queue(
        source, QueueConfig(dead_letter=DeadLetter(dlq_send, 1, b"sealed"))
    )
    assert record.config.dead_letter is not None


async def test_quotas_count_what_each_owner_created(store: Store) -> None:
    def capabilities() -> QueueCapabilities:
        return QueueCapabilities(os.urandom(32), os.urandom(32), os.urandom(32))

    for _ in range(2):
        await store.create_queue(capabilities(), QueueConfig(), owner="ci", quota=2)
    with pytest.raises(QuotaExceeded):
        await store.create_queue(capabilities(), QueueConfig(), owner="ci", quota=2)
    await store.create_queue(capabilities(), QueueConfig(), owner="other", quota=2)
    await store.create_topic(os.urandom(32), "topic-a", TopicConfig(), owner="ci", quota=1)
    with pytest.raises(QuotaExceeded):
        await store.create_topic(os.urandom(32), "topic-b", TopicConfig(), owner="ci", quota=1)


async def test_a_full_queue_refuses_sends_until_drained(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(max_stored_messages=3, visibility_timeout=1)
    await store.send(queue, [message() for _ in range(2)])
    with pytest.raises(QueueFull):
        await store.send(queue, [message(), message()])  # all or nothing
    await store.send(queue, [message()])
    with pytest.raises(QueueFull):
        await store.send(queue, [message()])
    stats = await store.queue_stats(queue)
    assert (stats.stored_messages, stats.visible) == (3, 3)
    got = await store.receive(queue, ReceiveRequest(max_messages=2))
    await store.delete_messages(
        queue, [Receipt(got.queue_key, m.seq, m.receive_count) for m in got.messages]
    )
    await store.send(queue, [message(), message()])
    assert (await store.queue_stats(queue)).stored_messages == 3


async def test_byte_limits_and_counters_follow_every_change(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    dlq = await new_queue()
    queue = await new_queue(
        max_stored_bytes=2048,
        retention_seconds=60,
        dead_letter=DeadLetter(dlq, 1, b"sealed"),
    )
    await store.send(queue, [message(b"a" * 1000), message(b"b" * 1000)])
    with pytest.raises(QueueFull):
        await store.send(queue, [message(b"c" * 100)])
    # receive, let it come back: the next receive moves both to the dead-letter queue
    await store.receive(queue, ReceiveRequest(max_messages=10, visibility_timeout=0))
    await store.receive(queue, ReceiveRequest(max_messages=10))
    moved = await store.queue_stats(dlq)
    assert (moved.stored_messages, moved.stored_bytes) == (2, 2000)
    assert (await store.queue_stats(queue)).stored_messages == 0
    await store.send(queue, [message(b"d" * 1500)])
    clock.advance(61)
    await sweep_all(store)
    assert (await store.queue_stats(queue)).stored_bytes == 0
    await store.send(dlq, [message(b"e")])
    await store.purge_queue(dlq)
    assert (await store.queue_stats(dlq)).stored_messages == 0


async def test_server_limits_apply_to_queues_without_their_own(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    store = factory(tmp_path, clock, limits=StorageLimits(max_messages=2, max_bytes=10**6))
    await store.open()
    try:
        queue = os.urandom(32)
        await store.create_queue(
            QueueCapabilities(queue, os.urandom(32), os.urandom(32)), QueueConfig()
        )
        await store.send(queue, [message(), message()])
        with pytest.raises(QueueFull):
            await store.send(queue, [message()])
    finally:
        await store.close()


async def test_admin_listings(store: Store, new_queue: NewQueue) -> None:
    small, deep = await new_queue(), await new_queue()
    await store.send(deep, [message() for _ in range(5)])
    await store.send(small, [message()])
    listed = await store.list_queues(after=0, limit=100)
    assert {q.id_hash for q in listed} == {small, deep}
    first_page = await store.list_queues(after=0, limit=1)
    assert len(first_page) == 1
    assert len(await store.list_queues(after=first_page[0].key, limit=100)) == 1
    deepest = await store.deepest_queues(1)
    assert (deepest[0].id_hash, deepest[0].stored_messages) == (deep, 5)
    assert deepest[0].oldest_sent_at_ms is not None
    topic = os.urandom(32)
    await store.create_topic(topic, "topic-x", TopicConfig(), owner="ops")
    (summary,) = await store.list_topics(after=0, limit=10)
    assert (summary.id_hash, summary.owner, summary.subscriptions) == (topic, "ops", 0)


def files_holding(directory: Path, data: bytes) -> list[str]:
    return [p.name for p in directory.iterdir() if p.is_file() and data in p.read_bytes()]


async def test_bodies_are_encrypted_at_rest(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    key = os.urandom(32)
    store = factory(tmp_path, clock, cipher=BodyCipher([key]))
    await store.open()
    queue = os.urandom(32)
    secret = b"card number 4111-1111-1111-1111"
    await store.create_queue(
        QueueCapabilities(queue, os.urandom(32), os.urandom(32)), QueueConfig()
    )
    await store.send(queue, [message(secret)])
    assert (await store.peek(queue, after=None, limit=1)).messages[0].body == secret
    await store.close()
    assert await asyncio.to_thread(files_holding, tmp_path, secret) == []
    # readable after a restart with the key, also once a new key is added in front
    rotated = factory(tmp_path, clock, cipher=BodyCipher([os.urandom(32), key]))
    await rotated.open()
    try:
        (got,) = (await rotated.receive(queue, ReceiveRequest())).messages
        assert got.body == secret
    finally:
        await rotated.close()
    keyless = factory(tmp_path, clock)
    await keyless.open()
    try:
        with pytest.raises(StorageUnavailable, match="EMS_ENCRYPTION_KEY"):
            await keyless.peek(queue, after=None, limit=1)
    finally:
        await keyless.close()
