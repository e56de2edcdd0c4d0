"""The async client against the app in-process: every call, typed results, mapped errors."""

from __future__ import annotations

import asyncio

import pytest

from ems.client import AsyncClient, AsyncWorker, Message, OutgoingMessage, errors


async def test_send_receive_delete_round_trip(aclient: AsyncClient) -> None:
    queue = await aclient.create_queue(visibility_timeout=60)
    message_id = await aclient.send(
        queue.queue_id, b"\x00\xffbinary", correlation_id="c-1", attributes={"Kind": "photo"}
    )
    [message] = await aclient.receive(queue.queue_id, wait_seconds=1)
    assert message.message_id == message_id
    assert message.body == b"\x00\xffbinary"
    assert message.correlation_id == "c-1"
    assert message.attributes == {"kind": "photo"}
    assert message.receive_count == 1
    assert message.sent_at is not None
    assert message.sent_at.tzinfo is not None
    info = await aclient.get_queue(queue.queue_id)
    assert (info.visibility_timeout, info.messages_in_flight) == (60, 1)
    await aclient.delete(queue.queue_id, message.receipt_handle)
    assert (await aclient.get_queue(queue.queue_id)).messages_in_flight == 0


async def test_batches_and_visibility(aclient: AsyncClient) -> None:
    queue = await aclient.create_queue()
    ids = await aclient.send_batch(
        queue.queue_id, ["text", b"\x01\x02", OutgoingMessage("late", delay_seconds=60)]
    )
    assert len(ids) == 3
    received = await aclient.receive(queue.queue_id, max_messages=10)
    assert sorted(m.body for m in received) == [b"\x01\x02", b"text"]
    handles = [m.receipt_handle for m in received]
    results = await aclient.change_visibility_batch(queue.queue_id, {handles[0]: 0})
    assert results[0].ok
    [again] = await aclient.receive(queue.queue_id)
    assert again.receive_count == 2
    results = await aclient.delete_batch(queue.queue_id, [again.receipt_handle, handles[1]])
    assert [r.status for r in results] == [204, 204]
    assert (await aclient.get_queue(queue.queue_id)).messages_delayed == 1
    page = await aclient.peek(queue.queue_id)
    assert [m["state"] for m in page["messages"]] == ["delayed"]


async def test_problems_become_typed_exceptions(aclient: AsyncClient) -> None:
    queue = await aclient.create_queue()
    with pytest.raises(errors.WrongCapability) as caught:
        await aclient.receive(queue.send_id)
    assert caught.value.status == 403
    assert caught.value.slug == "wrong-capability"
    assert "send" in caught.value.detail
    with pytest.raises(errors.InvalidAttribute):
        await aclient.create_queue(visibility_timeout=-1)
    await aclient.send(queue.queue_id, "x")
    [first] = await aclient.receive(queue.queue_id, visibility_timeout=0)
    await aclient.receive(queue.queue_id)
    with pytest.raises(errors.StaleReceiptHandle):
        await aclient.delete(queue.queue_id, first.receipt_handle)
    await aclient.delete_queue(queue.queue_id)
    with pytest.raises(errors.QueueNotFound) as gone:
        await aclient.send(queue.queue_id, "x")
    assert isinstance(gone.value, errors.NotFound)
    assert isinstance(gone.value, errors.ClientError)


async def test_topic_fans_out_to_queues(aclient: AsyncClient) -> None:
    topic = await aclient.create_topic()
    queues = [await aclient.create_queue() for _ in range(2)]
    for queue in queues:
        subscription = await aclient.subscribe_queue(topic.topic_id, queue.queue_id)
        assert subscription.status == "confirmed"
    published = await aclient.publish(topic.topic_id, "event", attributes={"kind": "k"})
    assert published.queues == 2
    for queue in queues:
        [message] = await aclient.receive(queue.queue_id)
        assert (message.text, message.message_id) == ("event", published.message_id)
    assert len(await aclient.subscriptions(topic.topic_id)) == 2


async def test_request_and_async_worker_reply(aclient: AsyncClient) -> None:
    jobs = await aclient.create_queue()
    replies = await aclient.create_queue()
    seen: list[Message] = []

    async def shout(message: Message) -> bytes:
        seen.append(message)
        await asyncio.sleep(0.01)
        return message.body.upper()

    worker = AsyncWorker(aclient, jobs.receive_id, shout, concurrency=5, wait_seconds=1)
    running = asyncio.create_task(worker.run())
    answers = await asyncio.gather(
        *(
            aclient.request(
                jobs.send_id, f"job {i}", reply_queue_id=replies.receive_id,
                reply_to=replies.send_id, timeout=10,
            )
            for i in range(20)
        )
    )  # fmt: skip
    assert sorted(a.text for a in answers) == sorted(f"JOB {i}" for i in range(20))
    worker.stop()
    await running
    assert worker.processed == 20
    assert (await aclient.get_queue(jobs.queue_id)).messages_visible == 0
    assert all(m.attributes["reply-to"] == replies.send_id for m in seen)


async def test_request_without_a_worker_raises_no_reply(aclient: AsyncClient) -> None:
    jobs = await aclient.create_queue()
    replies = await aclient.create_queue()
    with pytest.raises(errors.NoReply):
        await aclient.request(jobs.queue_id, "hello?", reply_queue_id=replies.queue_id, timeout=1)


async def test_redrive(aclient: AsyncClient) -> None:
    dlq = (await aclient.create_queue()).queue_id
    source = (
        await aclient.create_queue(
            visibility_timeout=0, dead_letter={"queue_id": dlq, "max_receives": 1}
        )
    ).queue_id
    await aclient.send(source, "poison")
    await aclient.receive(source)
    assert await aclient.receive(source) == []
    started = await aclient.start_redrive(dlq)
    assert (started.status, started.destination_queue_ref) == ("RUNNING", None)
    for _ in range(100):
        shown = await aclient.get_redrive(dlq)
        if not shown.active:
            break
        await asyncio.sleep(0.05)
    assert (shown.status, shown.messages_moved) == ("COMPLETED", 1)
    assert [m.body for m in await aclient.receive(source)] == [b"poison"]
