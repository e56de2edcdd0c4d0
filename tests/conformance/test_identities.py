"""Integrity rules every Store must keep: identities are never reused, and one failing write
never fails the writes that shared its transaction."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ems.core.clock import ManualClock
from ems.core.ids import new_message_id
from ems.core.models import NewMessage, Outcome, QueueConfig, Receipt, ReceiveRequest
from ems.storage.base import Store
from tests.backends import StoreFactory
from tests.conformance.conftest import NewQueue, ids, message, sweep_all


async def received(store: Store, queue: bytes) -> Receipt:
    """Receive the queue's one message; its receipt."""
    result = await store.receive(queue, ReceiveRequest())
    (got,) = result.messages
    return Receipt(queue_key=result.queue_key, seq=got.seq, receive_count=got.receive_count)


async def test_a_deleted_newest_message_hands_its_identity_to_nobody(
    store: Store, new_queue: NewQueue
) -> None:
    """The stale-handle scenario: send, receive, delete; send again, receive. A retried delete
    with the first receipt must not remove the second message, whose consumer still holds it."""
    queue = await new_queue()
    await store.send(queue, [message("first")])
    first = await received(store, queue)
    assert await store.delete_messages(queue, [first]) == [Outcome.DONE]
    await store.send(queue, [message("second")])
    second = await received(store, queue)
    assert second.seq != first.seq
    assert await store.delete_messages(queue, [first]) == [Outcome.GONE]
    assert await store.delete_messages(queue, [second]) == [Outcome.DONE], "still there"


async def test_a_batch_after_the_newest_messages_were_deleted_gets_new_identities(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    await store.send(queue, [message(f"old {i}") for i in range(3)])
    result = await store.receive(queue, ReceiveRequest(max_messages=3))
    old = [Receipt(result.queue_key, m.seq, m.receive_count) for m in result.messages]
    assert await store.delete_messages(queue, old) == [Outcome.DONE] * 3
    await store.send(queue, [message(f"new {i}") for i in range(3)])
    result = await store.receive(queue, ReceiveRequest(max_messages=3))
    new = [m.seq for m in result.messages]
    assert len(set(new)) == 3
    assert min(new) > max(r.seq for r in old)
    assert await store.delete_messages(queue, old) == [Outcome.GONE] * 3


async def test_identities_are_never_reused_across_a_restart(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    queue = os.urandom(32)
    first = factory(tmp_path, clock)
    await first.open()
    try:
        await first.create_queue(ids(queue), QueueConfig())
        await first.send(queue, [message("before")])
        before = await received(first, queue)
        await first.delete_messages(queue, [before])
    finally:
        await first.close()
    second = factory(tmp_path, clock)
    await second.open()
    try:
        await second.send(queue, [message("after")])
        after = await received(second, queue)
        assert after.seq > before.seq
        assert await second.delete_messages(queue, [before]) == [Outcome.GONE]
        assert (await second.peek(queue, after=None, limit=10)).messages[0].body == b"after"
    finally:
        await second.close()


async def test_identities_are_never_reused_after_a_purge(store: Store, new_queue: NewQueue) -> None:
    """A purge retires the queue's messages and the sweeper deletes them: their numbers, the
    newest among them, stay used."""
    queue = await new_queue()
    await store.send(queue, [message(f"old {i}") for i in range(5)])
    result = await store.receive(queue, ReceiveRequest(max_messages=5))
    old = [Receipt(result.queue_key, m.seq, m.receive_count) for m in result.messages]
    await store.purge_queue(queue)
    assert (await sweep_all(store)).dropped == 5
    await store.send(queue, [message(f"new {i}") for i in range(5)])
    result = await store.receive(queue, ReceiveRequest(max_messages=5))
    assert {m.seq for m in result.messages}.isdisjoint(r.seq for r in old)
    assert await store.delete_messages(queue, old) == [Outcome.GONE] * 5
    assert len((await store.peek(queue, after=None, limit=10)).messages) == 5


async def test_a_failing_send_does_not_fail_the_sends_beside_it(
    store: Store, new_queue: NewQueue
) -> None:
    """A send the store cannot write (here a lone surrogate, which validation refuses before it
    reaches a store) shares its group commit with 200 good ones: only it fails."""
    queue = await new_queue()
    poisoned = NewMessage(new_message_id(), b"x", correlation_id="\ud800")

    async def send(i: int) -> BaseException | None:
        batch = [poisoned] if i == 100 else [message(f"good {i}")]
        try:
            await store.send(queue, batch)
        except Exception as error:
            return error
        return None

    results = await asyncio.gather(*(send(i) for i in range(201)))
    failed = [i for i, error in enumerate(results) if error is not None]
    assert failed == [100]
    stored = await store.receive(queue, ReceiveRequest(max_messages=100))
    peeked = await store.peek(queue, after=None, limit=1000)
    assert len(peeked.messages) == 200
    assert all(m.body.startswith(b"good") for m in stored.messages)
