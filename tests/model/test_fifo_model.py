"""Model-based test of FIFO queues: random operation sequences against a real store and a model.

Hypothesis drives sends (with deduplication ids) to a few groups, receives, deletes, visibility
changes and the clock, on both backends, and checks after every receive that the store delivered
exactly what the naive model says: within a group only the leading run of visible messages, in
send order, nothing of a group while an earlier message of it is in flight, the oldest group
first and as far as it goes; and that a deduplication id is honoured exactly once in its window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, initialize, multiple, rule

from ems.core.fifo import FifoSettings, deduplication_key
from ems.core.idempotency import KeyedSend
from ems.core.models import Outcome, QueueConfig, Receipt, ReceiveRequest
from tests.backends import BACKENDS
from tests.conformance.conftest import ids, message
from tests.model.machine import StoreMachine

VISIBILITY = 4
WINDOW = 6
FIFO = FifoSettings()


@dataclass
class Entry:
    message_id: str
    group: str
    visible_at: int
    receive_count: int = 0


@dataclass
class Model:
    messages: list[Entry] = field(default_factory=list)  # live ones, in send order
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)

    def deliverable(self, now: int, limit: int) -> list[Entry]:
        """Naively: each group's leading visible run; oldest group first, as far as it goes."""
        runs: dict[str, list[Entry]] = {}
        blocked: set[str] = set()
        for entry in self.messages:
            if entry.group in blocked:
                continue
            if entry.visible_at > now:
                blocked.add(entry.group)
            else:
                runs.setdefault(entry.group, []).append(entry)
        taken: list[Entry] = []
        for run in runs.values():  # dicts keep insertion order: the group's first message
            taken += run[: limit - len(taken)]
        return taken


class FifoMachine(StoreMachine):
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.seqs: dict[int, Entry] = {}

    @initialize(backend=st.sampled_from(sorted(BACKENDS)))
    def open_store(self, backend: str) -> None:
        self.store = BACKENDS[backend](self.directory, self.clock)
        self.run(self.store.open())
        self.queue = os.urandom(32)
        config = QueueConfig(
            visibility_timeout=VISIBILITY, deduplication_window_seconds=WINDOW, fifo=FIFO
        )
        self.queue_key = self.run(self.store.create_queue(ids(self.queue), config)).key

    @rule(
        sends=st.lists(
            st.tuples(st.sampled_from("abc"), st.sampled_from(["d1", "d2", "d3", "d4", "d5"])),
            min_size=1,
            max_size=4,
        )
    )
    def send(self, sends: list[tuple[str, str]]) -> None:
        assert self.store is not None
        batch = [message(f"{g}/{d}")._replace(group_id=g) for g, d in sends]
        keys: list[bytes | None] = [deduplication_key(FIFO, g, d, b"") for g, d in sends]
        now = self.now
        expected: list[str | None] = []
        for m, (group, dedup) in zip(batch, sends, strict=True):
            remembered = self.model.keys.get(dedup)
            if remembered is not None and remembered[1] > now:
                expected.append(remembered[0])
                continue
            self.model.keys[dedup] = (m.message_id, now + WINDOW * 1000)
            expected.append(None)
            self.model.messages.append(Entry(m.message_id, group, now))
        event(f"a repeat: {any(e is not None for e in expected)}")
        originals = self.run(
            self.store.send_idempotent(self.queue, KeyedSend(batch, keys), WINDOW * 1000)
        )
        assert originals == expected

    @rule(target=handles, max_messages=st.integers(1, 5))
    def receive(self, max_messages: int) -> Any:
        assert self.store is not None
        expected = self.model.deliverable(self.now, max_messages)
        result = self.run(self.store.receive(self.queue, ReceiveRequest(max_messages)))
        got = result.messages
        assert [m.message_id for m in got] == [e.message_id for e in expected]
        event(f"groups in one receive: {len({e.group for e in expected})}")
        receipts = []
        for m, entry in zip(got, expected, strict=True):
            assert m.group_id == entry.group
            entry.receive_count += 1
            entry.visible_at = self.now + VISIBILITY * 1000
            self.seqs[m.seq] = entry
            receipts.append(Receipt(self.queue_key, m.seq, m.receive_count))
        return multiple(*receipts)

    def _live(self, receipt: Receipt) -> Entry | None:
        entry = self.seqs.get(receipt.seq)
        if entry is None or entry not in self.model.messages:
            return None
        return entry if entry.receive_count == receipt.receive_count else None

    @rule(handle=handles)
    def delete(self, handle: Receipt) -> None:
        assert self.store is not None
        entry = self._live(handle)
        (outcome,) = self.run(self.store.delete_messages(self.queue, [handle]))
        assert (outcome is Outcome.DONE) == (entry is not None)
        if entry is not None:
            self.model.messages.remove(entry)

    @rule(handle=handles, seconds=st.sampled_from([0, 2]))
    def change_visibility(self, handle: Receipt, seconds: int) -> None:
        assert self.store is not None
        entry = self._live(handle)
        (outcome,) = self.run(self.store.change_visibility(self.queue, [(handle, seconds)]))
        assert (outcome is Outcome.DONE) == (entry is not None)
        if entry is not None:
            entry.visible_at = self.now + seconds * 1000

    @rule(seconds=st.sampled_from([1, 3, 5]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)


FifoMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFifoModel = FifoMachine.TestCase
