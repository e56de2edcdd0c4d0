"""Message move tasks (dead-letter redrive) as every Store must run them, through the core
service that both APIs use (ems.core.redrive)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.core import capabilities
from ems.core.clock import ManualClock
from ems.core.errors import (
    InvalidReceiptHandle,
    InvalidRequest,
    MoveTaskNotFound,
    MoveTaskRunning,
    NotADeadLetterQueue,
    QueueNotFound,
    StaleReceiptHandle,
)
from ems.core.ids import new_message_id
from ems.core.models import NewMessage, ReceiveRequest
from ems.core.move_models import NO_SOURCE, MoveStatus
from ems.core.queue_access import Use
from ems.core.queues import QueueService
from ems.core.redrive import Redrive
from ems.storage.base import Store
from tests.backends import StoreFactory


async def service_on(store: Store) -> QueueService:
    return await QueueService.create(store)


async def dead_lettered(
    service: QueueService, dlq: str, bodies: list[str], *, max_receives: int = 1
) -> tuple[str, list[str]]:
    """A queue dead-lettering into ``dlq`` whose messages (``bodies``) went there; returns its
    id and the receipt handles its messages had."""
    source = await service.create_queue(
        {"visibility_timeout": 0, "dead_letter": {"queue_id": dlq, "max_receives": max_receives}}
    )
    queue_id = source.view.queue_id
    await service.send(
        await service.find_queue(queue_id, Use.SEND),
        [
            NewMessage(new_message_id(), body.encode(), f"corr-{body}", {"k": body})
            for body in bodies
        ],
    )
    handles: list[str] = []
    for _ in range(max_receives):
        got = await service.receive(queue_id, ReceiveRequest(max_messages=10), wait_seconds=0)
        handles.extend(d.receipt_handle for d in got)
    # the next receive moves them all to the dead-letter queue
    assert await service.receive(queue_id, ReceiveRequest(max_messages=10), wait_seconds=0) == []
    return queue_id, handles


async def run_to_end(redrive: Redrive) -> None:
    task = await redrive.store.claim_move_task(redrive.owner, redrive.lease_ms)
    assert task is not None
    await redrive.drive(task)


async def test_each_message_returns_to_its_source(store: Store) -> None:
    service = await service_on(store)
    redrive = Redrive(service)
    dlq = (await service.create_queue({})).view.queue_id
    first, old_handles = await dead_lettered(service, dlq, ["a1", "a2"])
    second, _ = await dead_lettered(service, dlq, ["b1"])
    task = await redrive.start(dlq)
    assert (task.status, task.to_move, task.moved) == (MoveStatus.RUNNING, 3, 0)
    await run_to_end(redrive)
    (done,) = await redrive.tasks(dlq)
    assert (done.status, done.moved, done.to_move) == (MoveStatus.COMPLETED, 3, 3)
    assert done.finished_at_ms is not None
    back = await service.receive(first, ReceiveRequest(max_messages=10), wait_seconds=0)
    assert sorted(d.message.body for d in back) == [b"a1", b"a2"]
    for delivery in back:
        message = delivery.message
        body = message.body.decode()
        # body, attributes and correlation id kept; the receive count starts again
        assert (message.correlation_id, dict(message.attributes)) == (f"corr-{body}", {"k": body})
        assert message.receive_count == 1
    (other,) = await service.receive(second, ReceiveRequest(max_messages=10), wait_seconds=0)
    assert other.message.body == b"b1"
    # renumbered: the handles of the messages' first life never reach them again
    outcomes = await service.delete_messages(first, old_handles)
    assert all(o is None or isinstance(o, StaleReceiptHandle | InvalidReceiptHandle)
               for o in outcomes)  # fmt: skip
    assert (await service.describe_queue(dlq))[1].visible == 0
    assert (await service.describe_queue(first))[1].stored_messages == 2


async def test_a_destination_takes_every_message(store: Store) -> None:
    service = await service_on(store)
    redrive = Redrive(service)
    dlq = (await service.create_queue({})).view.queue_id
    await dead_lettered(service, dlq, ["x", "y"])
    # a message sent to the dead-letter queue directly has no source, but a destination takes it
    await service.send(
        await service.find_queue(dlq, Use.SEND), [NewMessage(new_message_id(), b"direct")]
    )
    target = await service.create_queue({})
    await redrive.start(dlq, destination_id=target.send_id, rate=500)
    await run_to_end(redrive)
    got = await service.receive(
        target.view.queue_id, ReceiveRequest(max_messages=10), wait_seconds=0
    )
    assert sorted(d.message.body for d in got) == [b"direct", b"x", b"y"]


async def test_refusals(store: Store) -> None:
    service = await service_on(store)
    redrive = Redrive(service)
    plain = (await service.create_queue({})).view.queue_id
    with pytest.raises(NotADeadLetterQueue):
        await redrive.start(plain)
    dlq = (await service.create_queue({})).view.queue_id
    await dead_lettered(service, dlq, ["m"])
    with pytest.raises(InvalidRequest):
        await redrive.start(dlq, destination_id=dlq)
    with pytest.raises(InvalidRequest):
        await redrive.start(dlq, rate=501)
    with pytest.raises(QueueNotFound):
        await redrive.start(dlq, destination_id="no-such-queue-id-at-all")
    with pytest.raises(MoveTaskNotFound):
        await redrive.cancel(dlq)
    await redrive.start(dlq, rate=1)
    with pytest.raises(MoveTaskRunning):
        await redrive.start(dlq)
    cancelling = await redrive.cancel(dlq)
    assert cancelling.status is MoveStatus.CANCELLING
    await run_to_end(redrive)
    (cancelled,) = await redrive.tasks(dlq)
    assert (cancelled.status, cancelled.moved) == (MoveStatus.CANCELLED, 0)
    # a message with nowhere to go fails the task, and stays where it is
    await service.send(
        await service.find_queue(dlq, Use.SEND), [NewMessage(new_message_id(), b"orphan")]
    )
    await redrive.start(dlq)
    await run_to_end(redrive)
    latest, previous = await redrive.tasks(dlq, limit=10)
    assert previous.status is MoveStatus.CANCELLED
    assert latest.status is MoveStatus.FAILED
    assert latest.failure == NO_SOURCE
    assert (await service.describe_queue(dlq))[1].visible == 2


async def test_a_restart_resumes_without_loss_or_duplicates(
    factory: StoreFactory, tmp_path: Path, clock: ManualClock
) -> None:
    store = factory(tmp_path, clock)
    await store.open()
    service = await service_on(store)
    dlq = (await service.create_queue({})).view.queue_id
    source, _ = await dead_lettered(service, dlq, [f"m{i}" for i in range(7)])
    redrive = Redrive(service)
    await redrive.start(dlq, rate=3)
    task = await store.claim_move_task(redrive.owner, redrive.lease_ms)
    assert task is not None
    step = await store.move_messages(task.key, redrive.owner, 3, redrive.lease_ms)
    assert step.moved == 3
    await store.close()  # the process ends with the task running and its lease held

    store = factory(tmp_path, clock)
    await store.open()
    service = await service_on(store)
    redrive = Redrive(service)
    # the old lease ends (SQLite ends it at open: one process owns the file)
    clock.advance(60)
    await run_to_end(redrive)
    (done,) = await redrive.tasks(dlq)
    assert (done.status, done.moved) == (MoveStatus.COMPLETED, 7)
    got = await service.receive(source, ReceiveRequest(max_messages=10), wait_seconds=0)
    assert sorted(d.message.body for d in got) == sorted(f"m{i}".encode() for i in range(7))
    await store.close()


async def test_one_node_drives_a_task_until_its_lease_ends(
    store: Store, clock: ManualClock
) -> None:
    service = await service_on(store)
    dlq = (await service.create_queue({})).view.queue_id
    await dead_lettered(service, dlq, ["a", "b", "c"])
    first, second = Redrive(service), Redrive(service)
    await first.start(dlq, rate=1)
    task = await store.claim_move_task(first.owner, 10_000)
    assert task is not None
    assert await store.claim_move_task(second.owner, 10_000) is None
    assert (await store.move_messages(task.key, first.owner, 1, 10_000)).moved == 1
    # the first node dies: its lease ends, the second takes over
    clock.advance(11)
    taken = await store.claim_move_task(second.owner, 10_000)
    assert taken is not None
    assert taken.key == task.key
    # the first node, paused rather than dead, moves nothing more
    assert (await store.move_messages(task.key, first.owner, 1, 10_000)).lost
    await second.drive(taken)
    (done,) = await second.tasks(dlq)
    assert (done.status, done.moved) == (MoveStatus.COMPLETED, 3)


async def test_the_operator_redrives_by_hash(store: Store) -> None:
    """The admin console sees queues by the hashes of their full ids, never their ids."""
    service = await service_on(store)
    redrive = Redrive(service)
    dlq = (await service.create_queue({})).view.queue_id
    source, _ = await dead_lettered(service, dlq, ["op"])
    dlq_hash = capabilities.id_hash(dlq)
    started = await redrive.start_by_hash(dlq_hash, rate=10)
    assert started.status is MoveStatus.RUNNING
    assert await redrive.cancel_by_hash(dlq_hash)
    await run_to_end(redrive)
    (done,) = await redrive.tasks_by_hash(dlq_hash)
    assert done.status is MoveStatus.CANCELLED
    await redrive.start_by_hash(dlq_hash, destination_hash=capabilities.id_hash(source))
    await run_to_end(redrive)
    assert (await redrive.tasks_by_hash(dlq_hash))[0].moved == 1
