"""Topics, subscriptions, publishing and the webhook outbox, as every Store must implement them."""

from __future__ import annotations

import json
import os

import pytest

from ems.core.clock import ManualClock
from ems.core.errors import (
    ConfirmationNotFound,
    QueueNotFound,
    SubscriptionNotFound,
    TopicNotFound,
)
from ems.core.filter_policy import FilterPolicy
from ems.core.models import ReceiveRequest
from ems.core.topic_models import (
    AttemptResult,
    DeliveryKind,
    DeliveryPolicy,
    NewSubscription,
    Status,
    SubscriptionProtocol,
    TopicConfig,
    TopicMessage,
)
from ems.storage.base import Store
from tests.conformance.conftest import NewQueue


async def new_topic(store: Store, max_bytes: int = 262_144) -> bytes:
    topic_hash = os.urandom(32)
    await store.create_topic(topic_hash, f"topic-{os.urandom(6).hex()}", TopicConfig(max_bytes))
    return topic_hash


def queue_subscription(queue_hash: bytes, **fields: object) -> NewSubscription:
    return NewSubscription(
        subscription_id=f"sub-{os.urandom(6).hex()}",
        protocol=SubscriptionProtocol.QUEUE,
        queue_hash=queue_hash,
        **fields,  # type: ignore[arg-type]
    )


def http_subscription(url: str = "https://hooks.example/x", **fields: object) -> NewSubscription:
    values: dict[str, object] = {
        "subscription_id": f"sub-{os.urandom(6).hex()}",
        "protocol": SubscriptionProtocol.HTTP,
        "url": url,
        "signing_secret": "whsec_AAAA",
        "policy": DeliveryPolicy(max_attempts=3),
        "confirmed": True,
    }
    values.update(fields)
    return NewSubscription(**values)  # type: ignore[arg-type]


def message(body: bytes = b"event", **fields: object) -> TopicMessage:
    return TopicMessage(message_id=os.urandom(8).hex(), body=body, **fields)  # type: ignore[arg-type]


async def test_topic_lifecycle(store: Store) -> None:
    topic_hash = os.urandom(32)
    created = await store.create_topic(topic_hash, "topic-public", TopicConfig(4096))
    fetched = await store.get_topic(topic_hash)
    assert fetched.public_id == "topic-public"
    assert fetched.config.max_message_bytes == 4096
    assert fetched.key == created.key
    stats = await store.topic_stats(topic_hash)
    assert (stats.queue_subscriptions, stats.http_confirmed, stats.pending_deliveries) == (0, 0, 0)
    await store.delete_topic(topic_hash)
    for call in (store.get_topic, store.topic_stats, store.delete_topic, store.list_subscriptions):
        with pytest.raises(TopicNotFound):
            await call(topic_hash)
    with pytest.raises(TopicNotFound):
        await store.publish(topic_hash, message())


async def test_publish_fans_out_to_every_subscribed_queue(
    store: Store, new_queue: NewQueue
) -> None:
    topic = await new_topic(store)
    queues = [await new_queue() for _ in range(3)]
    for queue in queues:
        subscription = await store.subscribe(topic, queue_subscription(queue))
        assert subscription.status is Status.CONFIRMED
    published = message(b"seat freed", correlation_id="c-1", attributes={"kind": "seat"})
    result = await store.publish(topic, published)
    assert (result.queues, result.webhooks) == (3, 0)
    for queue in queues:
        (got,) = (await store.receive(queue, ReceiveRequest())).messages
        assert got.body == b"seat freed"
        assert got.message_id == published.message_id
        assert got.correlation_id == "c-1"
        assert dict(got.attributes) == {"kind": "seat"}


async def test_subscribing_twice_returns_the_existing_subscription(
    store: Store, new_queue: NewQueue
) -> None:
    topic, queue = await new_topic(store), await new_queue()
    first = await store.subscribe(topic, queue_subscription(queue))
    again = await store.subscribe(topic, queue_subscription(queue))
    assert first.created
    assert not again.created
    assert again.subscription_id == first.subscription_id
    await store.publish(topic, message())
    assert len((await store.receive(queue, ReceiveRequest(max_messages=10))).messages) == 1
    hook = await store.subscribe(topic, http_subscription())
    assert (
        await store.subscribe(topic, http_subscription())
    ).subscription_id == hook.subscription_id


async def test_subscribing_an_unknown_queue_fails(store: Store, new_queue: NewQueue) -> None:
    topic = await new_topic(store)
    with pytest.raises(QueueNotFound):
        await store.subscribe(topic, queue_subscription(os.urandom(32)))
    with pytest.raises(QueueNotFound):
        await store.subscribe(topic, http_subscription(dead_letter_hash=os.urandom(32)))
    assert await store.list_subscriptions(topic) == []


async def test_filter_policy_selects_messages(store: Store, new_queue: NewQueue) -> None:
    topic, red, any_queue = await new_topic(store), await new_queue(), await new_queue()
    await store.subscribe(
        topic,
        queue_subscription(
            red, filter_policy=FilterPolicy({"color": ["red", "pink"], "size": ["l"]})
        ),
    )
    await store.subscribe(topic, queue_subscription(any_queue))
    await store.publish(topic, message(b"red l", attributes={"color": "red", "size": "l"}))
    await store.publish(topic, message(b"red s", attributes={"color": "red", "size": "s"}))
    await store.publish(topic, message(b"none"))
    await store.publish(topic, message(b"pink l", attributes={"color": "pink", "size": "l"}))
    got = (await store.receive(red, ReceiveRequest(max_messages=10))).messages
    assert [m.body for m in got] == [b"red l", b"pink l"]
    assert len((await store.receive(any_queue, ReceiveRequest(max_messages=10))).messages) == 4


async def test_a_queue_that_cannot_take_a_message_is_skipped_and_recorded(
    store: Store, new_queue: NewQueue
) -> None:
    topic = await new_topic(store)
    big, small, full = (
        await new_queue(),
        await new_queue(max_message_bytes=1024),
        await new_queue(max_stored_messages=1),
    )
    for queue in (big, small, full):
        await store.subscribe(topic, queue_subscription(queue))
    await store.subscribe(topic, http_subscription())
    fits = await store.publish(topic, message(b"fits all"))
    assert (fits.queues, fits.skipped) == (3, 0)
    result = await store.publish(topic, message(b"x" * 2000))
    assert (result.queues, result.webhooks) == (1, 1), "one subscriber never blocks the others"
    assert result.skipped == 2, "the publisher is told how many subscribed queues missed it"
    assert (await store.queue_stats(big)).visible == 2
    assert (await store.queue_stats(small)).visible == 1
    assert (await store.queue_stats(full)).visible == 1
    failures = {
        s.subscription_id: s.stats for s in await store.list_subscriptions(topic) if s.stats.failed
    }
    assert len(failures) == 2
    errors = sorted(stats.last_error or "" for stats in failures.values())
    assert "accepts at most 1024" in errors[0]
    assert errors[1] == "the queue is full"


async def test_webhooks_wait_for_confirmation(store: Store, clock: ManualClock) -> None:
    topic = await new_topic(store)
    pending = await store.subscribe(
        topic,
        http_subscription(confirmed=False, challenge="c" * 32, confirm_url="https://ems/c"),
    )
    assert pending.status is Status.PENDING
    result = await store.publish(topic, message())
    assert result.webhooks == 0, "nothing is pushed to an unconfirmed endpoint"
    (confirmation,) = await store.claim_deliveries(pending.key, 10, 60)
    assert confirmation.kind is DeliveryKind.CONFIRMATION
    assert confirmation.challenge == "c" * 32
    assert confirmation.confirm_url == "https://ems/c"
    confirmed = await store.confirm_subscription("c" * 32)
    assert confirmed.status is Status.CONFIRMED
    with pytest.raises(ConfirmationNotFound):
        await store.confirm_subscription("c" * 32)
    assert (await store.publish(topic, message())).webhooks == 1


async def test_an_echoed_challenge_confirms(store: Store) -> None:
    topic = await new_topic(store)
    pending = await store.subscribe(
        topic, http_subscription(confirmed=False, challenge="e" * 32, confirm_url="x")
    )
    (task,) = await store.claim_deliveries(pending.key, 10, 60)
    await store.record_attempt(task, AttemptResult(delivered=True, status=200, confirmed=True))
    assert (await store.get_subscription(topic, pending.subscription_id)).status is Status.CONFIRMED
    assert await store.claim_deliveries(pending.key, 10, 60) == []


async def test_claims_lease_deliveries(store: Store, clock: ManualClock) -> None:
    topic = await new_topic(store)
    hook = await store.subscribe(topic, http_subscription())
    published = message(b"push me", content_type="text/plain", attributes={"a": "1"})
    await store.publish(topic, published)
    assert await store.due_subscriptions(100) == [hook.key]
    (task,) = await store.claim_deliveries(hook.key, 10, 60)
    assert task.kind is DeliveryKind.NOTIFICATION
    assert task.attempt == 1
    assert task.url == "https://hooks.example/x"
    assert task.message is not None
    assert task.message.body == b"push me"
    assert task.message.content_type == "text/plain"
    assert dict(task.message.attributes or {}) == {"a": "1"}
    assert task.webhook_id.startswith("msg_")
    # leased for the push timeout (10 s by default) plus the margin: nobody else gets it
    assert await store.claim_deliveries(hook.key, 10, 60) == []
    assert await store.due_subscriptions(100) == []
    clock.advance(69)
    assert await store.claim_deliveries(hook.key, 10, 60) == []
    clock.advance(2)
    (again,) = await store.claim_deliveries(hook.key, 10, 60)
    assert again.webhook_id == task.webhook_id


async def test_success_retry_and_final_failure(
    store: Store, new_queue: NewQueue, clock: ManualClock
) -> None:
    topic, dlq = await new_topic(store), await new_queue()
    hook = await store.subscribe(topic, http_subscription(dead_letter_hash=dlq))
    await store.publish(topic, message(b"one", correlation_id="k1"))
    (task,) = await store.claim_deliveries(hook.key, 10, 60)
    retry_at = clock.now_ms() + 10_000
    await store.record_attempt(
        task, AttemptResult(delivered=False, status=500, error="HTTP 500", retry_at_ms=retry_at)
    )
    assert await store.claim_deliveries(hook.key, 10, 60) == [], "not before its retry time"
    clock.advance(10)
    (second,) = await store.claim_deliveries(hook.key, 10, 60)
    assert second.attempt == 2
    assert second.webhook_id == task.webhook_id, "the same webhook-id on every retry"
    await store.record_attempt(second, AttemptResult(delivered=False, status=404, error="gone"))
    details = await store.get_subscription(topic, hook.subscription_id)
    assert (details.stats.delivered, details.stats.failed, details.stats.attempts) == (0, 1, 2)
    assert (details.stats.last_status, details.stats.last_error) == (404, "gone")
    (dead,) = (await store.receive(dlq, ReceiveRequest())).messages
    envelope = json.loads(dead.body)
    assert envelope["type"] == "DeliveryFailure"
    assert envelope["message"]["body"] == "one"
    assert envelope["last_status"] == 404
    assert dead.correlation_id == "k1"
    await store.publish(topic, message(b"two"))
    (third,) = await store.claim_deliveries(hook.key, 10, 60)
    await store.record_attempt(third, AttemptResult(delivered=True, status=204))
    details = await store.get_subscription(topic, hook.subscription_id)
    assert (details.stats.delivered, details.stats.pending) == (1, 0)
    assert details.stats.last_success_at_ms == clock.now_ms()


async def test_unsubscribe_and_topic_deletion_drop_pending_pushes(store: Store) -> None:
    topic = await new_topic(store)
    keep = await store.subscribe(topic, http_subscription("https://a.example/"))
    drop = await store.subscribe(topic, http_subscription("https://b.example/"))
    await store.publish(topic, message())
    await store.unsubscribe(topic, drop.subscription_id)
    with pytest.raises(SubscriptionNotFound):
        await store.get_subscription(topic, drop.subscription_id)
    with pytest.raises(SubscriptionNotFound):
        await store.unsubscribe(topic, drop.subscription_id)
    assert await store.claim_deliveries(drop.key, 10, 60) == []
    (task,) = await store.claim_deliveries(keep.key, 10, 60)
    await store.delete_topic(topic)
    # the attempt in flight when the topic went away records nothing and breaks nothing
    await store.record_attempt(task, AttemptResult(delivered=True, status=200))
    assert await store.due_subscriptions(100) == []


async def test_deleting_a_queue_removes_its_subscriptions(
    store: Store, new_queue: NewQueue
) -> None:
    topic, queue = await new_topic(store), await new_queue()
    await store.subscribe(topic, queue_subscription(queue))
    await store.delete_queue(queue)
    assert await store.list_subscriptions(topic) == []
    assert (await store.publish(topic, message())).queues == 0


async def test_commits_report_ready_deliveries(store: Store) -> None:
    ready: list[int] = []
    store.deliveries_ready.listen(ready.extend)
    topic = await new_topic(store)
    hook = await store.subscribe(topic, http_subscription())
    pending = await store.subscribe(
        topic, http_subscription("https://c.example/", confirmed=False, challenge="p" * 32)
    )
    assert ready == [pending.key]  # its confirmation request
    await store.publish(topic, message())
    assert sorted(ready) == sorted([pending.key, hook.key])
