"""The rules of FIFO receive attempts (``ReceiveRequestAttemptId``; see
:mod:`ems.core.receive_attempts`): how an attempt is recorded and when a retry may answer it again.

Apart from the service, because the stores apply them inside their transactions and storage must
not import core's services.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final, NamedTuple

from ems.core.models import StoredMessage

# how long an attempt id is remembered, from the receive that first used it
WINDOW_MS: Final = 5 * 60 * 1000


class Attempted(NamedTuple):
    """A message as an attempt answered it."""

    seq: int
    receive_count: int
    visible_at_ms: int


def attempt_hash(attempt_id: str) -> bytes:
    return hashlib.sha256(attempt_id.encode()).digest()


def encode(messages: Sequence[StoredMessage]) -> str:
    return json.dumps([[m.seq, m.receive_count, m.visible_at_ms] for m in messages])


def decode(text: str) -> list[Attempted]:
    return [Attempted(*entry) for entry in json.loads(text)]


def unchanged(recorded: Sequence[Attempted], current: dict[int, tuple[int, int]], now: int) -> bool:
    """Whether every message of the attempt is as it answered it: still there (not deleted),
    received no more times since, its visibility not changed, and still in flight.
    ``current`` maps seq to (receive_count, visible_at) as the store has them now."""
    for message in recorded:
        found = current.get(message.seq)
        if found != (message.receive_count, message.visible_at_ms) or found[1] <= now:
            return False
    return True
