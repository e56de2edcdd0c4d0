from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ems.core.clock import ManualClock
from ems.core.ids import new_message_id
from ems.core.models import NewMessage, QueueCapabilities, QueueConfig, SweepReport
from ems.storage.base import Store
from tests.backends import BACKENDS, StoreFactory


@pytest.fixture(params=sorted(BACKENDS))
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return BACKENDS[request.param]


@pytest.fixture
async def store(factory: StoreFactory, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    store = factory(tmp_path, clock)
    await store.open()
    yield store
    await store.close()


NewQueue = Callable[..., Awaitable[bytes]]


@pytest.fixture
def new_queue(store: Store) -> NewQueue:
    """Create a queue with the given config fields; returns its id hash."""

    async def create(**config: object) -> bytes:
        queue_hash = os.urandom(32)
        await store.create_queue(ids(queue_hash), QueueConfig(**config))  # type: ignore[arg-type]
        return queue_hash

    return create


async def sweep_all(store: Store) -> SweepReport:
    """Sweep until the store says it is done; the totals of every pass."""
    expired = dropped = 0
    while True:
        report = await store.sweep()
        expired += report.expired
        dropped += report.dropped
        if not report.more:
            return SweepReport(expired=expired, dropped=dropped)


def ids(full: bytes) -> QueueCapabilities:
    """Capability hashes for a new queue whose full id hashes to ``full``."""
    return QueueCapabilities(full, os.urandom(32), os.urandom(32))


def message(body: bytes | str = b"x", **fields: object) -> NewMessage:
    data = body.encode() if isinstance(body, str) else body
    return NewMessage(new_message_id(), data, **fields)  # type: ignore[arg-type]
