"""The stream hub's rules: admission caps, places given back, topic buffers, the stop."""

from __future__ import annotations

import asyncio

import pytest

from ems.core.errors import ShuttingDown, TooManyStreams
from ems.core.stream_hub import LISTENER_BUFFER, StreamHub
from ems.core.topic_models import TopicMessage
from ems.core.wakeups import Wakeups


async def test_caps_per_client_and_per_resource_and_places_given_back() -> None:
    hub = StreamHub(max_per_client=2, max_per_queue=2)
    first = hub.admit("queue", "10.0.0.1", 1)
    hub.admit("queue", "10.0.0.2", 1)
    with pytest.raises(TooManyStreams, match="max-streams-per-queue"):
        hub.admit("queue", "10.0.0.3", 1)
    # the same key of another kind is another resource
    hub.admit("topic", "10.0.0.1", 1)
    with pytest.raises(TooManyStreams, match="max-streams-per-client"):
        hub.admit("queue", "10.0.0.1", 2)
    assert hub.refused == {"per_client": 1, "per_queue": 1}
    assert hub.open == {"queue": 2, "topic": 1}
    first.close()
    first.close()  # twice changes nothing
    hub.admit("queue", "10.0.0.3", 1)
    assert hub.open == {"queue": 2, "topic": 1}


async def test_zero_means_no_cap() -> None:
    hub = StreamHub(max_per_client=0, max_per_queue=0)
    for _ in range(50):
        hub.admit("queue", "10.0.0.1", 1)
    assert hub.open["queue"] == 50


async def test_a_slow_topic_listener_drops_the_newest_and_counts_them() -> None:
    hub = StreamHub(10, 10)
    listener = hub.listen(b"topic")
    for i in range(LISTENER_BUFFER + 5):
        hub.published(b"topic", TopicMessage(f"m{i}", b"x"))
    hub.published(b"other topic", TopicMessage("elsewhere", b"x"))
    assert len(listener.messages) == LISTENER_BUFFER
    assert listener.messages[-1].message_id == f"m{LISTENER_BUFFER - 1}"
    assert listener.dropped == 5
    hub.unlisten(b"topic", listener)
    hub.published(b"topic", TopicMessage("after", b"x"))
    assert listener.messages[-1].message_id != "after"


async def test_closing_ends_every_stream_and_admits_no_new_one() -> None:
    hub = StreamHub(10, 10)
    slots = [hub.admit("queue", "10.0.0.1", n) for n in range(3)]
    listener = hub.listen(b"topic")
    waiting = asyncio.create_task(listener.wait(30, slots[0].stop))
    hub.close()
    async with asyncio.timeout(1):
        await waiting
    assert all(slot.stop.done() for slot in slots)
    with pytest.raises(ShuttingDown):
        hub.admit("queue", "10.0.0.1", 9)


async def test_waits_on_one_stop_future_leave_no_callbacks_behind() -> None:
    """A stream passes its stop future to every wait of its life: none may accumulate."""
    wakeups = Wakeups()
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for _ in range(100):
        await wakeups.wait(1, None, 0.001, since_version=0, cancel=stop)
    assert not stop._callbacks
