"""What one worker tells the others about its commits, over unix datagram sockets.

Workers sharing an SQLite file (sharing.py) share no memory: a send committed by worker B must
wake the long polls and streams waiting on worker A at once, and a queue changed on B must leave
A's cache. Each worker binds one datagram socket, named by the database and its slot; after its
commits it sends the news, coalesced per event-loop turn, to every other slot.

Why datagram sockets: the kernel wakes the receiving loop the moment news arrives (no polling),
one datagram is one whole message (no framing), a worker that restarts binds its slot's name
again and needs nobody to hand it a descriptor, and a worker that is down refuses at once
(``ECONNREFUSED``), so its news is dropped: its replacement starts with empty caches and no
waiters. On Linux the names are abstract (no files, no path-length limit, gone with the
process) and carry the supervisor's pid; elsewhere they are files beside the database.

News is never dropped for a live worker: when its receive queue is full (``EAGAIN``, a loop busy
for a long time) the rest waits and is sent again shortly; if too much piles up it is replaced by
one "anything may have changed" message, on which the peer forgets its caches and wakes every
waiter (who then look in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

from ems.core.wakeups import Wakeups
from ems.storage.sqlite.sharing import Sharing

log = logging.getLogger("ems.storage.sqlite")

MAX_DATAGRAM: Final = 60_000
# payloads kept for a peer whose queue is full before they are replaced by "everything"
MAX_BACKLOG: Final = 256
RETRY_SECONDS: Final = 0.005
MAX_CORRELATION_IDS: Final = 1000
EVERYTHING: Final = b'{"e":1}'


class PeerHandlers(NamedTuple):
    """The local half of each effect of another worker's commits."""

    wakeups: Wakeups
    forget: Callable[[int], None]
    forget_topic: Callable[[bytes], None]
    forget_everything: Callable[[], None]
    released: Callable[[int], None]


# Linux has abstract socket names
ABSTRACT: Final = sys.platform == "linux"


def address(database: Path, sharing: Sharing, slot: int) -> str:
    """Where worker ``slot`` of this server listens (named by the supervisor, not the file:
    a stale server on a deleted data directory at the same path must not be reached)."""
    if ABSTRACT:
        return f"\0ems-workers-{sharing.supervisor}-{slot}"
    return str(database.with_name(f"{database.name}.worker-{slot}"))


class Peers:
    def __init__(self, database: Path, sharing: Sharing, handlers: PeerHandlers) -> None:
        self._database = database
        self._sharing = sharing
        self._handlers = handlers
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: dict[int, tuple[list[int], list[str]]] = {}
        self._forget: set[int] = set()
        self._forget_topics: set[str] = set()
        self._released: set[int] = set()
        self._flush_scheduled = False
        self._backlog: dict[int, list[bytes]] = {}
        self._retry: asyncio.TimerHandle | None = None
        self.sent = 0
        self.received = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = address(self._database, self._sharing, self._sharing.slot)
        if not name.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()  # left by a worker that died
        sock.bind(name)
        sock.setblocking(False)
        self._sock = sock
        loop.add_reader(sock.fileno(), self._readable)

    def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        if self._sock is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    # news from this worker's commits

    def wake(self, queue_key: int, count: int, correlation_ids: Sequence[str | None]) -> None:
        counts, ids = self._wake.setdefault(queue_key, ([0], []))
        counts[0] += count
        ids.extend(c for c in correlation_ids if c is not None)
        self._schedule()

    def forget(self, queue_key: int) -> None:
        self._forget.add(queue_key)
        self._schedule()

    def release(self, queue_key: int) -> None:
        self._released.add(queue_key)
        self._schedule()

    def forget_topic(self, topic_hash: bytes) -> None:
        self._forget_topics.add(topic_hash.hex())
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        payloads = self._payloads()
        for slot in range(self._sharing.workers):
            if slot != self._sharing.slot:
                self._backlog.setdefault(slot, []).extend(payloads)
        self._send_backlog()

    def _payloads(self) -> list[bytes]:
        items: list[tuple[str, Any]] = [("f", key) for key in sorted(self._forget)]
        items += [("t", topic) for topic in sorted(self._forget_topics)]
        items += [("r", key) for key in sorted(self._released)]
        for key, (count, ids) in self._wake.items():
            distinct = sorted(set(ids))
            if len(distinct) > MAX_CORRELATION_IDS:  # too many to list: wake every waiter there
                items.append(("a", key))
            else:
                items.append(("w", [key, count[0], distinct]))
        self._wake, self._forget, self._forget_topics, self._released = {}, set(), set(), set()
        payloads: list[bytes] = []
        current: dict[str, list[Any]] = {}
        size = 0
        for kind, value in items:
            piece = len(json.dumps(value)) + 8
            if current and size + piece > MAX_DATAGRAM:
                payloads.append(json.dumps(current, separators=(",", ":")).encode())
                current, size = {}, 0
            current.setdefault(kind, []).append(value)
            size += piece
        if current:
            payloads.append(json.dumps(current, separators=(",", ":")).encode())
        return payloads

    def _send_backlog(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        sock = self._sock
        if sock is None:
            return
        for slot, payloads in list(self._backlog.items()):
            target = address(self._database, self._sharing, slot)
            while payloads:
                try:
                    sock.sendto(payloads[0], target)
                except BlockingIOError:
                    if len(payloads) > MAX_BACKLOG:
                        payloads[:] = [EVERYTHING]
                    break
                except (ConnectionRefusedError, FileNotFoundError):
                    payloads.clear()  # that worker is down: its successor starts afresh
                except OSError as error:
                    log.warning("could not tell worker %d of a commit: %s", slot, error)
                    payloads.clear()
                else:
                    self.sent += 1
                    del payloads[0]
            if not payloads:
                del self._backlog[slot]
        if self._backlog and self._loop is not None:
            self._retry = self._loop.call_later(RETRY_SECONDS, self._send_backlog)

    # news from the others

    def _readable(self) -> None:
        sock = self._sock
        for _ in range(256):  # bounded: let the loop serve requests between bursts
            if sock is None:
                return
            try:
                data = sock.recv(MAX_DATAGRAM + 1024)
            except (BlockingIOError, InterruptedError):
                return
            self.received += 1
            try:
                self._apply(json.loads(data))
            except (ValueError, TypeError, AttributeError):
                log.warning("ignored a malformed message from another worker")

    def _apply(self, news: dict[str, list[Any]]) -> None:
        handlers = self._handlers
        if news.get("e"):
            handlers.forget_everything()
            handlers.wakeups.notify_every_queue()
            return
        for key in news.get("f", ()):
            handlers.forget(int(key))
            # the queue may be gone: its waiters must find out (a spurious wake-up costs one
            # receive that finds nothing and waits again)
            handlers.wakeups.notify_all(int(key))
        for key in news.get("r", ()):
            handlers.released(int(key))
        for topic in news.get("t", ()):
            handlers.forget_topic(bytes.fromhex(topic))
        for key in news.get("a", ()):
            handlers.wakeups.notify_all(int(key))
        for key, count, correlation_ids in news.get("w", ()):
            handlers.wakeups.notify(int(key), int(count), correlation_ids)
