"""Model-based test: random operation sequences against a real store and a reference model.

The model is deliberately naive (a dict of messages with visibility times). Hypothesis drives
send / receive / delete / change-visibility / clock-advance on both and checks after every step
that the store agrees: which messages can be received, in what order, what each receipt handle
may still do, the counts, and that dead-lettering moves exactly the over-received messages.
Sends with idempotency keys check exactly-once within the window: a key seen within
``WINDOW`` seconds (whatever became of its message since) stores nothing and names the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from ems.core.idempotency import KeyedSend, key_hash
from ems.core.ids import new_message_id
from ems.core.models import DeadLetter, Outcome, QueueConfig, Receipt, ReceiveRequest
from tests.backends import BACKENDS
from tests.conformance.conftest import ids, message
from tests.model.machine import StoreMachine

MAX_RECEIVES = 2
VISIBILITY = 4  # the queue's default, seconds
WINDOW = 6  # idempotency keys are remembered this long, seconds


@dataclass
class ModelMessage:
    message_id: str
    visible_at: int
    receive_count: int = 0
    sent_order: int = 0


@dataclass
class Model:
    """What a queue should contain, kept by the simplest code that can be right."""

    messages: dict[str, ModelMessage] = field(default_factory=dict)
    dead_lettered: set[str] = field(default_factory=set)
    # idempotency key -> (the message id it was first sent with, when it is forgotten)
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)
    sent = 0

    def visible(self, now: int) -> list[ModelMessage]:
        return [m for m in self.messages.values() if m.visible_at <= now]


class QueueMachine(StoreMachine):
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()

    @initialize(backend=st.sampled_from(sorted(BACKENDS)))
    def open_store(self, backend: str) -> None:
        self.store = BACKENDS[backend](self.directory, self.clock)
        self.run(self.store.open())
        self.dlq = os.urandom(32)
        self.queue = os.urandom(32)
        self.run(self.store.create_queue(ids(self.dlq), QueueConfig()))
        config = QueueConfig(
            visibility_timeout=VISIBILITY,
            retention_seconds=14 * 24 * 3600,
            dead_letter=DeadLetter(self.dlq, MAX_RECEIVES, b"sealed"),
        )
        self.queue_key = self.run(self.store.create_queue(ids(self.queue), config)).key

    @rule(count=st.integers(1, 3), delay=st.sampled_from([None, 0, 1, 3]))
    def send(self, count: int, delay: int | None) -> None:
        assert self.store is not None
        batch = [message(new_message_id().encode(), delay_seconds=delay) for _ in range(count)]
        self.run(self.store.send(self.queue, batch))
        for m in batch:
            self.model.sent += 1
            self.model.messages[m.message_id] = ModelMessage(
                m.message_id, self.now + (delay or 0) * 1000, sent_order=self.model.sent
            )

    @rule(keys=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=4))
    def send_keyed(self, keys: list[str | None]) -> None:
        assert self.store is not None
        batch = [message(new_message_id().encode()) for _ in keys]
        hashes = [None if k is None else key_hash(k) for k in keys]
        now = self.now
        expected: list[str | None] = []
        for m, key in zip(batch, keys, strict=True):
            remembered = self.model.keys.get(key) if key is not None else None
            if remembered is not None and remembered[1] > now:
                expected.append(remembered[0])
                continue
            if key is not None:
                self.model.keys[key] = (m.message_id, now + WINDOW * 1000)
            expected.append(None)
            self.model.sent += 1
            self.model.messages[m.message_id] = ModelMessage(
                m.message_id, now, sent_order=self.model.sent
            )
        event(f"keyed send with a repeat: {any(e is not None for e in expected)}")
        originals = self.run(
            self.store.send_idempotent(self.queue, KeyedSend(batch, hashes), WINDOW * 1000)
        )
        assert originals == expected

    @rule()
    def sweep(self) -> None:
        assert self.store is not None
        self.run(self.store.sweep())  # forgets expired keys, and only those

    @rule(
        target=handles,
        max_messages=st.integers(1, 4),
        visibility=st.sampled_from([None, 1, 2, 6]),
    )
    def receive(self, max_messages: int, visibility: int | None) -> Any:
        assert self.store is not None
        visible_before = {m.message_id: m for m in self.model.visible(self.now)}
        result = self.run(
            self.store.receive(
                self.queue, ReceiveRequest(max_messages=max_messages, visibility_timeout=visibility)
            )
        )
        got = result.messages
        moved = self._sync_dead_letters()
        # only visible messages are returned or moved, and only over-received ones are moved
        for message_id in moved:
            assert message_id in visible_before
            assert visible_before[message_id].receive_count >= MAX_RECEIVES
        eligible = [m for m in visible_before.values() if m.receive_count < MAX_RECEIVES]
        event(f"over-received visible: {len(visible_before) - len(eligible) > 0}")
        event(f"dead-lettered: {bool(moved)}")
        returned_ids = [m.message_id for m in got]
        assert len(set(returned_ids)) == len(returned_ids)
        assert all(i in visible_before and i not in moved for i in returned_ids)
        # a message received max_receives times is moved, never delivered again
        assert all(visible_before[i].receive_count < MAX_RECEIVES for i in returned_ids)
        assert len(got) == min(max_messages, len(eligible))
        # oldest visible first: nothing left behind became visible before what was returned
        left = [m for m in eligible if m.message_id not in returned_ids]
        if got and left:
            assert max(visible_before[i].visible_at for i in returned_ids) <= min(
                m.visible_at for m in left
            )
        timeout = VISIBILITY if visibility is None else visibility
        receipts = []
        for m in got:
            model = self.model.messages[m.message_id]
            model.receive_count += 1
            model.visible_at = self.now + timeout * 1000
            assert m.receive_count == model.receive_count
            receipts.append(Receipt(self.queue_key, m.seq, m.receive_count))
        return multiple(*receipts)

    def _sync_dead_letters(self) -> set[str]:
        assert self.store is not None
        page = self.run(self.store.peek(self.dlq, after=None, limit=1000))
        in_dlq = {m.message_id for m in page.messages}
        moved = in_dlq - self.model.dead_lettered
        for message_id in moved:
            del self.model.messages[message_id]
        self.model.dead_lettered = in_dlq
        return moved

    def _expected(self, receipt: Receipt) -> tuple[Outcome, ModelMessage | None]:
        """What acting on a receipt should do, found by its seq among live messages."""
        for model in self.model.messages.values():
            if model.message_id == self._ids.get(receipt.seq):
                if model.receive_count == receipt.receive_count:
                    return Outcome.DONE, model
                return Outcome.STALE, model
        return Outcome.GONE, None

    @property
    def _ids(self) -> dict[int, str]:
        assert self.store is not None
        page = self.run(self.store.peek(self.queue, after=None, limit=1000))
        return {m.seq: m.message_id for m in page.messages}

    @precondition(lambda self: self.store is not None)
    @rule(handle=handles)
    def delete(self, handle: Receipt) -> None:
        assert self.store is not None
        expected, model = self._expected(handle)
        (outcome,) = self.run(self.store.delete_messages(self.queue, [handle]))
        assert outcome == expected
        if outcome is Outcome.DONE:
            assert model is not None
            del self.model.messages[model.message_id]

    @rule(handle=handles, seconds=st.sampled_from([0, 1, 5]))
    def change_visibility(self, handle: Receipt, seconds: int) -> None:
        assert self.store is not None
        expected, model = self._expected(handle)
        (outcome,) = self.run(self.store.change_visibility(self.queue, [(handle, seconds)]))
        assert outcome == expected
        if outcome is Outcome.DONE:
            assert model is not None
            model.visible_at = self.now + seconds * 1000

    @rule(seconds=st.sampled_from([0.5, 2, 5, 7]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def counts_agree(self) -> None:
        if self.store is None:
            return
        stats = self.run(self.store.queue_stats(self.queue))
        now = self.now
        live = self.model.messages.values()
        assert stats.visible == sum(m.visible_at <= now for m in live)
        assert stats.in_flight == sum(m.visible_at > now and m.receive_count > 0 for m in live)
        assert stats.delayed == sum(m.visible_at > now and m.receive_count == 0 for m in live)


QueueMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQueueModel = QueueMachine.TestCase
