"""Long-poll (and live stream) wakeups within one process.

Receivers waiting on a queue park a future here; a store that commits receivable messages calls
:meth:`Wakeups.notify`, which wakes at most as many waiters as there are new messages (no
thundering herd) in arrival order. A per-queue version counter closes the race between "my
receive found nothing" and "I started waiting": a waiter records the version before it receives
and does not sleep if the version moved meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

# sentinel results of a wait
WOKEN = "woken"
TIMED_OUT = "timed-out"
SHUTDOWN = "shutdown"

_Key = tuple[int, str | None]


class Wakeups:
    def __init__(self) -> None:
        self._waiters: dict[_Key, dict[asyncio.Future[str], None]] = {}
        self._versions: dict[int, int] = {}
        self._closed = False

    def version(self, queue_key: int) -> int:
        return self._versions.get(queue_key, 0)

    def notify(
        self, queue_key: int, count: int, correlation_ids: Iterable[str | None] = ()
    ) -> None:
        """``count`` messages became receivable in the queue, with these correlation ids."""
        self._versions[queue_key] = self._versions.get(queue_key, 0) + 1
        if not self._waiters:
            return
        self._wake((queue_key, None), count)
        for correlation_id in {c for c in correlation_ids if c is not None}:
            self._wake((queue_key, correlation_id), count)

    def notify_all(self, queue_key: int) -> None:
        """Something changed for every waiter of the queue (e.g. it was deleted)."""
        self._versions[queue_key] = self._versions.get(queue_key, 0) + 1
        for key in [k for k in self._waiters if k[0] == queue_key]:
            self._wake(key, len(self._waiters[key]))

    def notify_every_queue(self) -> None:
        """Anything may have changed (e.g. news from other nodes was lost): wake every waiter."""
        for queue_key in {key[0] for key in self._waiters}:
            self.notify_all(queue_key)

    def _wake(self, key: _Key, count: int) -> None:
        waiters = self._waiters.get(key)
        if not waiters:
            return
        # waiters that already timed out linger until their coroutine resumes: skip them, so
        # that ``count`` live receivers are woken
        picked: list[asyncio.Future[str]] = []
        live = 0
        for future in waiters:
            if live >= count:
                break
            picked.append(future)
            if not future.done():
                live += 1
        for future in picked:
            del waiters[future]
            _resolve(future, WOKEN)
        if not waiters:
            del self._waiters[key]

    async def wait(
        self,
        queue_key: int,
        correlation_id: str | None,
        seconds: float,
        *,
        since_version: int,
        cancel: asyncio.Future[Any] | None = None,
    ) -> str:
        """Wait until notified, ``seconds`` pass, ``cancel`` completes or shutdown.

        Returns at once with WOKEN when the queue's version is no longer ``since_version``.
        """
        if self._closed:
            return SHUTDOWN
        if self._versions.get(queue_key, 0) != since_version:
            return WOKEN
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        key = (queue_key, correlation_id)
        self._waiters.setdefault(key, {})[future] = None
        timer = loop.call_later(seconds, _resolve, future, TIMED_OUT)

        def cancelled(_: asyncio.Future[Any]) -> None:
            _resolve(future, TIMED_OUT)

        if cancel is not None:
            cancel.add_done_callback(cancelled)
        try:
            return await future
        finally:
            timer.cancel()
            if cancel is not None:
                # a live stream passes the same future to every wait of its life
                cancel.remove_done_callback(cancelled)
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.pop(future, None)
                if not waiters:
                    del self._waiters[key]

    def close(self) -> None:
        """Wake every waiter: the server is shutting down."""
        self._closed = True
        for waiters in self._waiters.values():
            for future in waiters:
                _resolve(future, SHUTDOWN)
        self._waiters.clear()

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())


class Releases:
    """Wakes the streams of a queue, on this node, when one of its messages is deleted or its
    visibility is changed: a stream at its ``max_in_flight`` may have room again."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}

    def notify(self, queue_key: int) -> None:
        for future in self._waiters.pop(queue_key, ()):
            if not future.done():
                future.set_result(None)

    async def wait(self, queue_key: int, seconds: float, stop: asyncio.Future[Any]) -> None:
        """Until notified, ``seconds`` pass or ``stop`` completes."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(queue_key, set())
        waiters.add(future)
        try:
            await asyncio.wait((future, stop), timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            left = self._waiters.get(queue_key)
            if left is not None:
                left.discard(future)
                if not left:
                    del self._waiters[queue_key]


def _resolve(future: asyncio.Future[str], result: str) -> None:
    if not future.done():
        future.set_result(result)


class DeliveriesReady:
    """Subscriptions that got webhook pushes to make, told by a store after its commits, so that
    the dispatcher pushes at once rather than at its next scan. A store is built with one (or
    makes its own); the dispatcher listens while it runs."""

    def __init__(self) -> None:
        self._listener: Callable[[Iterable[int]], None] | None = None

    def listen(self, listener: Callable[[Iterable[int]], None] | None) -> None:
        """Send what comes to ``listener`` from now on (None: to no one)."""
        self._listener = listener

    def __call__(self, subscription_keys: Iterable[int]) -> None:
        if self._listener is not None:
            self._listener(subscription_keys)
