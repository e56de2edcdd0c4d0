"""Idempotency keys: a send repeated with the same key within the window stores nothing.

A producer that times out does not know whether its send was stored; retried with the same
``Idempotency-Key`` (or batch entry ``idempotency_key``), the send is answered with the original
``message_id`` instead of storing a second message. This module holds the rules; the stores only
keep ``(queue, key hash) -> (message_id, expires_at)`` rows and claim them in the same transaction
as the messages, so the window survives restarts, holds after the message was received and
deleted, and holds across PostgreSQL nodes (the table's primary key decides, not any node's memory).

Keys are stored hashed: the table never holds what a client chose as a key, which may well be
something it considers private (an order number, a user's id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ems.core.errors import InvalidRequest, StorageUnavailable, quoted
from ems.core.models import NewMessage

# how long a key is remembered, from the send that first used it (SQS FIFO's 5 minutes)
WINDOW_MS: Final = 5 * 60 * 1000
# SQS's MessageDeduplicationId: up to 128 characters, letters, digits and punctuation
MAX_KEY_CHARS: Final = 128
_KEY = re.compile(r"[!-~]{1,128}")


def check_key(value: object, *, where: str = "Idempotency-Key") -> str:
    """The key as given, if it is 1 to 128 printable ASCII characters without spaces."""
    if not isinstance(value, str) or _KEY.fullmatch(value) is None:
        raise InvalidRequest(
            f"{where} must be 1 to {MAX_KEY_CHARS} printable ASCII characters without spaces "
            f"(letters, digits, punctuation); got {quoted(value)}.",
            parameter=where,
        )
    return value


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True, slots=True)
class KeyedSend:
    """A send whose messages may carry key hashes (None: no key, always stored)."""

    messages: Sequence[NewMessage]
    keys: Sequence[bytes | None]

    def first_by_key(self) -> dict[bytes, str]:
        """Each key's first message in the send: the one stored, and the id its repeats get."""
        first: dict[bytes, str] = {}
        for message, key in zip(self.messages, self.keys, strict=True):
            if key is not None:
                first.setdefault(key, message.message_id)
        return first


def plan(
    send: KeyedSend, claimed: set[bytes], remembered: Mapping[bytes, str]
) -> tuple[list[NewMessage], list[str | None]]:
    """What to store, and per message the id it duplicates (None: stored as new).

    ``claimed`` are the keys this send's transaction has just recorded (new, or expired and
    taken over); ``remembered`` maps every other key of the send to the message id recorded
    for it within the window.
    """
    first = send.first_by_key()
    fresh: list[NewMessage] = []
    duplicates: list[str | None] = []
    for message, key in zip(send.messages, send.keys, strict=True):
        if key is None or (key in claimed and first[key] == message.message_id):
            fresh.append(message)
            duplicates.append(None)
        elif key in claimed:
            duplicates.append(first[key])  # a repeat within the same request
        else:
            duplicates.append(repeated(key, remembered))
    return fresh, duplicates


def repeated(key: bytes, remembered: Mapping[bytes, str]) -> str:
    """The message id recorded for a key that could not be claimed."""
    original = remembered.get(key)
    if original is None:
        # the row that made the claim fail is gone: only a racing sweep of an expired row
        # could do that; the client retries and finds the key free
        raise StorageUnavailable("An idempotency key changed meanwhile; retry the send.")
    return original
