"""What the SQS API's FIFO queues keep in the store (ems.storage.sqs_fifo), on every backend:
what a receive attempt's replay answers and everything that ends one, sequence numbers of sends,
FIFO settings changed after creation."""

from __future__ import annotations

from ems.core.attempt_rules import WINDOW_MS, attempt_hash
from ems.core.clock import ManualClock
from ems.core.fifo import DeduplicationScope, FifoSettings, ThroughputLimit
from ems.core.models import Receipt, ReceiveRequest, StoredMessage
from ems.storage.base import Store
from tests.conformance.conftest import NewQueue, message

ATTEMPT = attempt_hash("attempt")


async def received(
    store: Store, new_queue: NewQueue, count: int = 2, visibility: int = 30
) -> tuple[bytes, list[StoredMessage]]:
    """A FIFO queue with three messages of one group, ``count`` of them received and recorded
    as an attempt."""
    queue = await new_queue(fifo=FifoSettings(), visibility_timeout=visibility)
    await store.send(queue, [message(f"m{i}", group_id="g") for i in range(3)])
    result = await store.receive(queue, ReceiveRequest(max_messages=count))
    await store.record_receive_attempt(queue, ATTEMPT, result.messages, WINDOW_MS)
    return queue, result.messages


def seen(messages: list[StoredMessage] | None) -> list[tuple[int, int]]:
    assert messages is not None
    return [(m.seq, m.receive_count) for m in messages]


async def test_a_replay_answers_the_same_messages_and_restarts_their_visibility(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue, first = await received(store, new_queue)
    assert [m.body for m in first] == [b"m0", b"m1"]
    clock.advance(20)
    replayed = await store.replay_receive_attempt(queue, ATTEMPT, None)
    assert seen(replayed) == seen(first)
    assert replayed is not None
    assert [m.body for m in replayed] == [b"m0", b"m1"]
    assert {m.visible_at_ms for m in replayed} == {clock.now_ms() + 30_000}
    assert replayed[0].group_id == "g"
    # restarted: past the first timeout they are still in flight, and replay again
    clock.advance(20)
    assert (await store.receive(queue, ReceiveRequest(max_messages=10))).messages == []
    again = await store.replay_receive_attempt(queue, ATTEMPT, 5)
    assert seen(again) == seen(first)
    assert again is not None
    assert again[0].visible_at_ms == clock.now_ms() + 5_000
    assert await store.replay_receive_attempt(queue, attempt_hash("other"), None) is None


async def test_a_deleted_message_ends_the_attempt(store: Store, new_queue: NewQueue) -> None:
    queue, first = await received(store, new_queue)
    key = (await store.get_queue(queue)).key
    handle = Receipt(key, first[0].seq, first[0].receive_count)
    await store.delete_messages(queue, [handle])
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None


async def test_a_visibility_change_ends_the_attempt(store: Store, new_queue: NewQueue) -> None:
    queue, first = await received(store, new_queue)
    key = (await store.get_queue(queue)).key
    handle = Receipt(key, first[1].seq, first[1].receive_count)
    await store.change_visibility(queue, [(handle, 60)])
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None
    # the attempt is forgotten, not only refused
    await store.change_visibility(queue, [(handle, 60)])
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None


async def test_visible_again_or_received_again_ends_the_attempt(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue, first = await received(store, new_queue, count=1)
    clock.advance(31)  # visible again
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None
    queue, first = await received(store, new_queue, count=1)
    clock.advance(31)
    again = await store.receive(queue, ReceiveRequest(max_messages=1))
    assert seen(again.messages) == [(first[0].seq, 2)]
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None


async def test_an_attempt_lasts_five_minutes(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue, _ = await received(store, new_queue, visibility=600)
    clock.advance(WINDOW_MS / 1000 - 1)
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is not None
    clock.advance(1)
    assert await store.replay_receive_attempt(queue, ATTEMPT, None) is None


async def test_sequence_numbers_of_sends(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue(fifo=FifoSettings())
    sent = [message(f"m{i}", group_id="g") for i in range(3)]
    await store.send(queue, sent)
    result = await store.receive(queue, ReceiveRequest(max_messages=3))
    numbers = await store.sequence_numbers(
        queue, [("g", m.message_id) for m in sent] + [("g", "gone"), ("h", sent[0].message_id)]
    )
    assert numbers == [m.seq for m in result.messages] + [None, None]


async def test_fifo_settings_change_and_a_standard_queue_stays_standard(
    store: Store, new_queue: NewQueue
) -> None:
    fifo = await new_queue(fifo=FifoSettings())
    wanted = FifoSettings(
        content_based_deduplication=True,
        deduplication_scope=DeduplicationScope.GROUP,
        throughput_limit=ThroughputLimit.GROUP,
    )
    await store.set_fifo_settings(fifo, wanted)
    assert (await store.get_queue(fifo)).config.fifo == wanted
    standard = await new_queue()
    await store.set_fifo_settings(standard, wanted)
    assert (await store.get_queue(standard)).config.fifo is None
