"""Message semantics, as every Store must implement them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.errors import MessageTooLarge
from ems.core.models import (
    DeadLetter,
    Outcome,
    QueueChanges,
    Receipt,
    ReceiveRequest,
    StoredMessage,
)
from ems.core.wakeups import TIMED_OUT, WOKEN
from ems.storage.base import Store
from tests.backends import StoreFactory
from tests.conformance.conftest import NewQueue, ids, message, sweep_all


def receipt(queue_key: int, m: StoredMessage) -> Receipt:
    return Receipt(queue_key=queue_key, seq=m.seq, receive_count=m.receive_count)


async def test_round_trip_keeps_every_field(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    body = bytes(range(256)) * 4  # binary, not UTF-8
    sent = message(body, correlation_id="req-1", attributes={"kind": "order", "v": "2"})
    sent_at = clock.now_ms()
    await store.send(queue, [sent])
    clock.advance(2)
    result = await store.receive(queue, ReceiveRequest())
    (got,) = result.messages
    assert got.message_id == sent.message_id
    assert got.body == body
    assert got.correlation_id == "req-1"
    assert dict(got.attributes) == {"kind": "order", "v": "2"}
    assert got.receive_count == 1
    assert got.sent_at_ms == sent_at
    assert got.first_received_at_ms == sent_at + 2000
    assert result.queue_key == (await store.get_queue(queue)).key


async def test_empty_body_and_no_attributes(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    await store.send(queue, [message(b"")])
    (got,) = (await store.receive(queue, ReceiveRequest())).messages
    assert got.body == b""
    assert dict(got.attributes) == {}
    assert got.correlation_id is None


async def test_oldest_first_and_max_messages(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    await store.send(queue, [message(f"m{i}") for i in range(5)])
    first = await store.receive(queue, ReceiveRequest(max_messages=3))
    second = await store.receive(queue, ReceiveRequest(max_messages=3))
    assert [m.body for m in first.messages] == [b"m0", b"m1", b"m2"]
    assert [m.body for m in second.messages] == [b"m3", b"m4"]
    assert (await store.receive(queue, ReceiveRequest(max_messages=3))).messages == []


async def test_visibility_timeout_hides_then_redelivers(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(visibility_timeout=10)
    await store.send(queue, [message("job")])
    (first,) = (await store.receive(queue, ReceiveRequest())).messages
    clock.advance(9.9)
    assert (await store.receive(queue, ReceiveRequest())).messages == []
    clock.advance(0.1)
    (again,) = (await store.receive(queue, ReceiveRequest())).messages
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert again.first_received_at_ms == first.first_received_at_ms


async def test_per_receive_visibility_override(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(visibility_timeout=1000)
    await store.send(queue, [message()])
    await store.receive(queue, ReceiveRequest(visibility_timeout=2))
    clock.advance(2)
    assert len((await store.receive(queue, ReceiveRequest())).messages) == 1


async def test_zero_visibility_leaves_the_message_visible(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    await store.send(queue, [message()])
    first = await store.receive(queue, ReceiveRequest(visibility_timeout=0))
    second = await store.receive(queue, ReceiveRequest(visibility_timeout=0))
    assert [m.receive_count for m in first.messages + second.messages] == [1, 2]


async def test_delete_latest_receipt_is_idempotent_and_stale_ones_are_refused(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(visibility_timeout=5)
    await store.send(queue, [message()])
    first = await store.receive(queue, ReceiveRequest())
    old = receipt(first.queue_key, first.messages[0])
    clock.advance(5)
    second = await store.receive(queue, ReceiveRequest())
    latest = receipt(second.queue_key, second.messages[0])
    assert await store.delete_messages(queue, [old]) == [Outcome.STALE]
    assert await store.delete_messages(queue, [latest]) == [Outcome.DONE]
    assert await store.delete_messages(queue, [latest]) == [Outcome.GONE]
    clock.advance(100)
    assert (await store.receive(queue, ReceiveRequest())).messages == []


async def test_delete_after_the_lease_expired_but_before_redelivery_succeeds(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(visibility_timeout=1)
    await store.send(queue, [message()])
    result = await store.receive(queue, ReceiveRequest())
    clock.advance(5)
    assert await store.delete_messages(queue, [receipt(result.queue_key, result.messages[0])]) == [
        Outcome.DONE
    ]


async def test_receipts_of_another_queue_are_foreign(store: Store, new_queue: NewQueue) -> None:
    a, b = await new_queue(), await new_queue()
    await store.send(a, [message()])
    result = await store.receive(a, ReceiveRequest())
    handle = receipt(result.queue_key, result.messages[0])
    assert await store.delete_messages(b, [handle]) == [Outcome.FOREIGN]
    assert await store.change_visibility(b, [(handle, 0)]) == [Outcome.FOREIGN]
    assert await store.delete_messages(a, [handle]) == [Outcome.DONE]


async def test_batch_delete_reports_each_receipt(store: Store, new_queue: NewQueue) -> None:
    queue = await new_queue()
    await store.send(queue, [message(str(i)) for i in range(3)])
    result = await store.receive(queue, ReceiveRequest(max_messages=3))
    handles = [receipt(result.queue_key, m) for m in result.messages]
    gone = Receipt(result.queue_key, seq=handles[0].seq + 1000, receive_count=1)
    outcomes = await store.delete_messages(queue, [*handles, gone, handles[0]])
    assert outcomes == [Outcome.DONE] * 3 + [Outcome.GONE, Outcome.GONE]


async def test_change_visibility_extends_and_releases(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(visibility_timeout=5)
    await store.send(queue, [message()])
    result = await store.receive(queue, ReceiveRequest())
    handle = receipt(result.queue_key, result.messages[0])
    assert await store.change_visibility(queue, [(handle, 60)]) == [Outcome.DONE]
    clock.advance(30)
    assert (await store.receive(queue, ReceiveRequest())).messages == []
    assert await store.change_visibility(queue, [(handle, 0)]) == [Outcome.DONE]
    (again,) = (await store.receive(queue, ReceiveRequest())).messages
    assert again.receive_count == 2
    # the first handle lost its lease
    assert await store.change_visibility(queue, [(handle, 10)]) == [Outcome.STALE]
    assert await store.delete_messages(queue, [receipt(result.queue_key, again)]) == [Outcome.DONE]
    assert await store.change_visibility(queue, [(receipt(result.queue_key, again), 1)]) == [
        Outcome.GONE
    ]


async def test_queue_and_message_delays(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(delay_seconds=10)
    await store.send(queue, [message("queue default"), message("own", delay_seconds=2)])
    await store.send(queue, [message("now", delay_seconds=0)])
    assert [
        m.body for m in (await store.receive(queue, ReceiveRequest(max_messages=10))).messages
    ] == [b"now"]
    clock.advance(2)
    assert [
        m.body for m in (await store.receive(queue, ReceiveRequest(max_messages=10))).messages
    ] == [b"own"]
    clock.advance(8)
    assert [
        m.body for m in (await store.receive(queue, ReceiveRequest(max_messages=10))).messages
    ] == [b"queue default"]


async def test_empty_receive_tells_when_the_next_message_becomes_visible(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue()
    assert (await store.receive(queue, ReceiveRequest())).next_visible_at_ms is None
    await store.send(queue, [message(delay_seconds=30), message(delay_seconds=7)])
    result = await store.receive(queue, ReceiveRequest())
    assert result.messages == []
    assert result.next_visible_at_ms == clock.now_ms() + 7000


async def test_expired_messages_are_never_delivered_and_are_swept(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(retention_seconds=60)
    await store.send(queue, [message("old") for _ in range(3)])
    clock.advance(30)
    await store.send(queue, [message("young")])
    clock.advance(30)
    result = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert [m.body for m in result.messages] == [b"young"]
    assert (await store.peek(queue, after=None, limit=10)).messages[0].body == b"young"
    assert (await sweep_all(store)).expired == 3


async def test_oversize_message_is_refused_and_nothing_of_the_batch_is_stored(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue(max_message_bytes=1024)
    with pytest.raises(MessageTooLarge):
        await store.send(queue, [message(b"a"), message(b"x" * 1025)])
    # attributes count towards the size
    with pytest.raises(MessageTooLarge):
        await store.send(queue, [message(b"x" * 1020, attributes={"name": "value"})])
    await store.send(queue, [message(b"x" * 1024)])
    stats = await store.queue_stats(queue)
    assert stats.visible == 1


async def test_dead_letter_after_max_receives(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    dlq = await new_queue()
    queue = await new_queue(
        visibility_timeout=1,
        dead_letter=DeadLetter(queue_hash=dlq, max_receives=2, sealed_queue_id=b"s"),
    )
    await store.send(queue, [message("poison", correlation_id="c1"), message("fine")])
    for attempt in (1, 2):
        result = await store.receive(queue, ReceiveRequest(correlation_id="c1"))
        assert [m.receive_count for m in result.messages] == [attempt]
        clock.advance(1)
    # the third receive moves it instead of delivering it
    result = await store.receive(queue, ReceiveRequest(correlation_id="c1"))
    assert result.messages == []
    remaining = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert [m.body for m in remaining.messages] == [b"fine"]
    (moved,) = (await store.receive(dlq, ReceiveRequest())).messages
    assert moved.body == b"poison"
    assert moved.correlation_id == "c1"
    assert moved.receive_count == 1


async def test_dead_letter_move_keeps_the_batch_full(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    dlq = await new_queue()
    queue = await new_queue(
        visibility_timeout=1,
        dead_letter=DeadLetter(queue_hash=dlq, max_receives=1, sealed_queue_id=b"s"),
    )
    await store.send(queue, [message("a"), message("b")])
    await store.receive(queue, ReceiveRequest(max_messages=2))
    clock.advance(2)  # a and b are visible again, and older than c and d
    await store.send(queue, [message("c"), message("d")])
    result = await store.receive(queue, ReceiveRequest(max_messages=2))
    assert sorted(m.body for m in result.messages) == [b"c", b"d"]
    assert (await store.queue_stats(dlq)).visible == 2


async def test_correlation_receive_takes_only_matching_messages(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    await store.send(
        queue,
        [
            message("for a", correlation_id="a"),
            message("for b", correlation_id="b"),
            message("plain"),
            message("also a", correlation_id="a"),
        ],
    )
    got = await store.receive(queue, ReceiveRequest(max_messages=10, correlation_id="a"))
    assert [m.body for m in got.messages] == [b"for a", b"also a"]
    assert (await store.receive(queue, ReceiveRequest(correlation_id="a"))).messages == []
    rest = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert [m.body for m in rest.messages] == [b"for b", b"plain"]


async def test_peek_browses_in_send_order_without_side_effects(
    store: Store, new_queue: NewQueue
) -> None:
    queue = await new_queue()
    await store.send(queue, [message(f"m{i}") for i in range(5)])
    await store.receive(queue, ReceiveRequest())
    page = await store.peek(queue, after=None, limit=3)
    assert [m.body for m in page.messages] == [b"m0", b"m1", b"m2"]
    assert [m.receive_count for m in page.messages] == [1, 0, 0]
    assert page.next_after is not None
    rest = await store.peek(queue, after=page.next_after, limit=3)
    assert [m.body for m in rest.messages] == [b"m3", b"m4"]
    assert rest.next_after is None
    assert (await store.queue_stats(queue)).visible == 4


async def test_commits_wake_waiters_of_that_queue_only(store: Store, new_queue: NewQueue) -> None:
    queue, other = await new_queue(), await new_queue()
    key = (await store.get_queue(queue)).key
    other_key = (await store.get_queue(other)).key
    version = store.wakeups.version(key)
    waiter = asyncio.create_task(store.wakeups.wait(key, None, 5, since_version=version))
    bystander = asyncio.create_task(
        store.wakeups.wait(other_key, None, 0.2, since_version=store.wakeups.version(other_key))
    )
    await asyncio.sleep(0)
    await store.send(queue, [message(delay_seconds=5)])  # not receivable: no wakeup
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await store.send(queue, [message()])
    assert await asyncio.wait_for(waiter, 1) == WOKEN
    assert await bystander == TIMED_OUT


async def test_release_and_dead_letter_moves_wake_waiters(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    dlq = await new_queue()
    queue = await new_queue(
        dead_letter=DeadLetter(queue_hash=dlq, max_receives=1, sealed_queue_id=b"s")
    )
    key = (await store.get_queue(queue)).key
    dlq_key = (await store.get_queue(dlq)).key
    await store.send(queue, [message()])
    result = await store.receive(queue, ReceiveRequest())
    waiter = asyncio.create_task(
        store.wakeups.wait(key, None, 5, since_version=store.wakeups.version(key))
    )
    dlq_waiter = asyncio.create_task(
        store.wakeups.wait(dlq_key, None, 5, since_version=store.wakeups.version(dlq_key))
    )
    await asyncio.sleep(0)
    await store.change_visibility(queue, [(receipt(key, result.messages[0]), 0)])
    assert await asyncio.wait_for(waiter, 1) == WOKEN
    await store.receive(queue, ReceiveRequest())  # moves it
    assert await asyncio.wait_for(dlq_waiter, 1) == WOKEN


async def test_messages_survive_a_restart(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    first = factory(tmp_path, clock)
    await first.open()
    queue = os.urandom(32)
    from ems.core.models import QueueConfig

    await first.create_queue(ids(queue), QueueConfig())
    await first.send(queue, [message(f"m{i}") for i in range(10)])
    await first.close()
    second = factory(tmp_path, clock)
    await second.open()
    try:
        got = await second.receive(queue, ReceiveRequest(max_messages=100))
        assert [m.body for m in got.messages] == [f"m{i}".encode() for i in range(10)]
    finally:
        await second.close()


async def test_retention_change_applies_to_waiting_messages(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    queue = await new_queue(retention_seconds=3600)
    await store.send(queue, [message()])
    clock.advance(120)
    await store.update_queue(queue, QueueChanges(retention_seconds=60))
    assert (await store.receive(queue, ReceiveRequest())).messages == []


async def test_a_client_hanging_up_mid_batch_costs_its_neighbours_nothing(
    store: Store, new_queue: NewQueue, caplog: pytest.LogCaptureFixture
) -> None:
    # three requests share a group commit; the middle one's client goes away before the batch
    # answers (its handler task is cancelled), which must neither fail the others nor leave
    # the writer unable to answer the next request
    queue = await new_queue()
    sends = [asyncio.create_task(store.send(queue, [message(body)])) for body in (b"a", b"b", b"c")]
    await asyncio.sleep(0)  # every send has submitted its operation
    sends[1].cancel()
    await sends[0]
    await sends[2]
    with pytest.raises(asyncio.CancelledError):
        await sends[1]
    await store.send(queue, [message(b"d")])
    # visible again at once, so that the receive below sees them unless the delete happened
    got = await store.receive(queue, ReceiveRequest(max_messages=10, visibility_timeout=0))
    bodies = sorted(m.body for m in got.messages)
    # whether the abandoned send was stored is the driver's choice; its neighbours' are not
    assert [b for b in bodies if b != b"b"] == [b"a", b"c", b"d"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    queue_key = got.queue_key
    deletes = asyncio.create_task(
        store.delete_messages(queue, [receipt(queue_key, m) for m in got.messages])
    )
    await asyncio.sleep(0)
    deletes.cancel()  # a delete whose client hung up still happens or not, whole
    with pytest.raises(asyncio.CancelledError):
        await deletes
    again = await store.receive(queue, ReceiveRequest(max_messages=10))
    assert len(again.messages) in (0, len(got.messages))
