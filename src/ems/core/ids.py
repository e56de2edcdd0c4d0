"""Ids: new message ids, and the hash a store knows a queue by (from its capability id).

Below the services and the stores alike: both mint message ids (a store mints them for the
messages a topic fans out), and neither should import the other's modules to get one.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Final

from ems.core import capabilities
from ems.core.errors import QueueNotFound


@functools.lru_cache(maxsize=65_536)
def _checked_hash(queue_id: str) -> bytes | None:
    if len(queue_id) > 128 or not capabilities.looks_like_id(queue_id):
        return None
    return capabilities.id_hash(queue_id)


def queue_hash(queue_id: str) -> bytes:
    """The store's name for a queue; an id that cannot exist is simply not found.

    Memoized: every request of the hot path needs it, and the format check plus hashing cost
    more than the rest of the routing.
    """
    h = _checked_hash(queue_id)
    if h is None:
        raise QueueNotFound()
    return h


class _RandomHex:
    """Random hex digits read from the OS a few KiB at a time: one system call per 128 ids
    instead of one per id. The pool serves the thread that first drew from it (the event loop,
    which makes nearly every id); any other thread reads the OS directly, so no two threads
    can take the same digits. The first draw claims the pool under a lock: two threads that
    both found it unclaimed would otherwise both draw from it. A forked child starts afresh (a
    copy of the parent's pool would repeat the parent's ids)."""

    __slots__ = ("_at", "_claim", "_digits", "_owner")
    CHUNK: Final = 2048  # random bytes per read

    def __init__(self) -> None:
        self._digits = ""
        self._at = 0
        self._owner = 0  # a thread's ident; 0 until one draws
        self._claim = threading.Lock()

    def take32(self) -> str:
        me = threading.get_ident()
        if me != self._owner:
            with self._claim:
                if not self._owner:
                    self._owner = me
            if me != self._owner:
                return os.urandom(16).hex()
        at = self._at
        if at + 32 > len(self._digits):
            self._digits = os.urandom(self.CHUNK).hex()
            at = 0
        self._at = at + 32
        return self._digits[at : at + 32]

    def reset(self) -> None:
        self._digits = ""
        self._at = 0
        self._owner = 0
        # another thread of the parent may have held the lock at the fork: never inherit it
        self._claim = threading.Lock()


_RANDOM: Final = _RandomHex()
os.register_at_fork(after_in_child=_RANDOM.reset)


def new_message_id() -> str:
    """A random (version 4) UUID, formatted directly: uuid.uuid4() costs several times more."""
    return _uuid(_RANDOM.take32())


def new_message_ids(count: int) -> list[str]:
    """``count`` new message ids from one read of the random source (batches need many)."""
    h = os.urandom(16 * count).hex()
    return [_uuid(h[i : i + 32]) for i in range(0, 32 * count, 32)]


def _uuid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


# RFC 9562 variant bits: the first hex digit of the fourth group is 8, 9, a or b
_UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
