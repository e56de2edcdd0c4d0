"""What one node tells the others, over PostgreSQL LISTEN/NOTIFY.

Nodes share the database but not their memory: a send on node A must wake the long polls
waiting on node B, and a queue changed on A must leave B's cache. After each commit a node hands
its news to :class:`Signals`, which coalesces everything that arrives while a notification is in
flight into the next one: a burst of sends is a few notifications, not one per send.

Notifications are a shortcut, not the truth: one lost while a connection was down only delays
things. Waiting receivers also re-check the database every ``poll_interval`` seconds, cached
queues expire, and on reconnecting a node forgets its caches and wakes its waiters.

A listening connection hears nothing when its server hangs or a failover leaves it on the old
primary, and silence looks like a quiet night. So the connection sends a heartbeat when it has
had nothing to send for ``HEARTBEAT_SECONDS``, and every statement on it is bounded by the
store's timeout: one that does not answer in time is terminated and the node connects again
(to whichever host now takes connections: see hosts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import asyncpg

from ems.storage.health import StorageHealth

log = logging.getLogger("ems.storage.postgres")

# PostgreSQL refuses payloads of 8000 bytes and more
MAX_PAYLOAD: Final = 7900
RECONNECT_DELAYS: Final = (0.1, 0.2, 0.5, 1.0, 2.0)
# an idle listening connection proves it is alive this often
HEARTBEAT_SECONDS: Final = 2.0


class News:
    """What a node has to tell the others, gathered between two notifications."""

    __slots__ = ("forget", "wake")

    def __init__(self) -> None:
        # queue key -> [messages that became receivable, their correlation ids]
        self.wake: dict[int, tuple[list[int], list[str]]] = {}
        # queues whose records changed or went away
        self.forget: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.wake or self.forget)

    def payloads(self, node: str) -> list[str]:
        """JSON payloads of at most MAX_PAYLOAD bytes that together say everything."""
        items: list[tuple[str, Any]] = [("f", key) for key in sorted(self.forget)]
        for key, (count, correlation_ids) in self.wake.items():
            item = [key, count[0], sorted(set(correlation_ids))]
            if len(json.dumps(item)) > MAX_PAYLOAD // 2:
                items.append(("a", key))  # too many ids to list: wake every waiter there
            else:
                items.append(("w", item))
        payloads: list[str] = []
        current: dict[str, list[Any]] = {}
        size = 0
        for kind, value in items:
            piece = len(json.dumps(value)) + 2
            if current and size + piece > MAX_PAYLOAD - 64:
                payloads.append(_encode(node, current))
                current, size = {}, 0
            current.setdefault(kind, []).append(value)
            size += piece
        if current:
            payloads.append(_encode(node, current))
        return payloads


def _encode(node: str, content: dict[str, list[Any]]) -> str:
    return json.dumps({"n": node, **content}, separators=(",", ":"))


class Signals:
    """One connection that listens on the schema's channel and sends the node's news."""

    def __init__(
        self,
        connect: Callable[[], Any],
        channel: str,
        node: str,
        *,
        on_wake: Callable[[int, int, Sequence[str]], None],
        on_wake_all: Callable[[int], None],
        on_forget: Callable[[int], None],
        on_reconnect: Callable[[], None],
        timeout: float = 5.0,
        health: StorageHealth | None = None,
    ) -> None:
        self._connect = connect
        self.channel = channel
        self.node = node
        self._on_wake = on_wake
        self._on_wake_all = on_wake_all
        self._on_forget = on_forget
        self._on_reconnect = on_reconnect
        self.timeout = timeout
        # an outage the store has reported (and logged) explains a lost connection: then the
        # listener's own lines are info, not a second warning for the same outage
        self._health = health
        self._news = News()
        self._ready = asyncio.Event()  # set when there is news to send
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self.connected = asyncio.Event()
        self.sent = 0
        self.received = 0

    def wake(self, queue_key: int, count: int, correlation_ids: Sequence[str | None]) -> None:
        counts, ids = self._news.wake.setdefault(queue_key, ([0], []))
        counts[0] += count
        ids.extend(c for c in correlation_ids if c is not None)
        self._ready.set()

    def forget(self, queue_key: int) -> None:
        self._news.forget.add(queue_key)
        self._ready.set()

    async def start(self, wait_seconds: float) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        # the first connection is made before serving: a node that cannot listen would miss
        # wakeups from the start
        try:
            await asyncio.wait_for(self.connected.wait(), wait_seconds)
        except TimeoutError:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close(timeout=2)

    async def _run(self) -> None:
        failures = 0
        lost = False  # a warning was logged: the next connection that works says so, once
        while True:
            try:
                conn = self._conn = await self._connect()
                # a lost connection wakes the sender, which then finds it closed
                conn.add_termination_listener(lambda _: self._ready.set())
                timer = asyncio.get_running_loop().call_later(self.timeout, conn.terminate)
                try:
                    await conn.add_listener(self.channel, self._received)
                finally:
                    timer.cancel()
            except Exception as error:
                if not lost:
                    log.log(self._level(), "cannot listen for other nodes' news: %s", error)
                    lost = True
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                await asyncio.sleep(delay)
                continue
            if lost:
                log.info("listening for other nodes' news again")
                lost = False
            failures = 0
            self.connected.set()
            # whatever was said while we were not listening is lost: start afresh
            self._on_reconnect()
            try:
                await self._send_while_connected(conn)
            except Exception as error:
                log.log(self._level(), "lost the notification connection: %s", error)
                lost = True
            self.connected.clear()
            if not conn.is_closed():
                conn.terminate()

    def _level(self) -> int:
        return logging.INFO if self._health and self._health.outage else logging.WARNING

    async def _send_while_connected(self, conn: asyncpg.Connection) -> None:
        while True:
            try:
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow the
                # cancellation that stops this task when the event is set at the same moment
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await self._ready.wait()
            except TimeoutError:
                await self._bounded(conn, "SELECT 1")
                continue
            self._ready.clear()
            if conn.is_closed():
                return
            news, self._news = self._news, News()
            if news:
                for payload in news.payloads(self.node):
                    await self._bounded(conn, "SELECT pg_notify($1, $2)", self.channel, payload)
                    self.sent += 1

    async def _bounded(self, conn: asyncpg.Connection, statement: str, *args: object) -> None:
        """Run ``statement``, terminating the connection if it takes longer than the timeout
        (which fails the statement at once, without waiting on the server to hear a cancel)."""
        timer = asyncio.get_running_loop().call_later(self.timeout, conn.terminate)
        try:
            await conn.execute(statement, *args)
        finally:
            timer.cancel()

    def _received(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            news = json.loads(payload)
            if news.get("n") == self.node:
                return
            self.received += 1
            for key in news.get("f", ()):
                self._on_forget(int(key))
            for key, count, correlation_ids in news.get("w", ()):
                self._on_wake(int(key), int(count), correlation_ids)
            for key in news.get("a", ()):
                self._on_wake_all(int(key))
        except (ValueError, TypeError, AttributeError):
            log.warning("ignored a malformed notification on %s", channel)
