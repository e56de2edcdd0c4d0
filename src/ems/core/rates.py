"""Per-queue send and receive rates, for the operator console.

Each queue counts its events in fixed 10-second windows; its rate is the last complete window's
count over its length, so a rate is at most 20 seconds old and costs one dict lookup and an
addition per send or receive. Memory is bounded: past ``capacity`` queues the one counted
longest ago is forgotten (it shows a rate of 0 until it is busy again). Rates are this node's:
on PostgreSQL each node counts what it served.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

WINDOW_SECONDS: Final = 10.0
SENT: Final = 1
RECEIVED: Final = 2


class QueueRates:
    def __init__(self, capacity: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self._clock = clock
        # queue key -> [window number, sent, received, sent before, received before], the
        # queue counted longest ago first (an OrderedDict forgets it in O(1); a dict's first
        # entry gets slower to find as deleted entries pile up before it)
        self._windows: OrderedDict[int, list[int]] = OrderedDict()

    def count(self, queue_key: int, event: int, amount: int) -> None:
        window = self._window(queue_key, create=True)
        assert window is not None
        window[event] += amount

    def per_second(self, queue_key: int) -> tuple[float, float]:
        """(sends, receives) per second over the last complete window."""
        window = self._window(queue_key, create=False)
        if window is None:
            return (0.0, 0.0)
        return (window[3] / WINDOW_SECONDS, window[4] / WINDOW_SECONDS)

    def _window(self, queue_key: int, *, create: bool) -> list[int] | None:
        number = int(self._clock() // WINDOW_SECONDS)
        window = self._windows.get(queue_key)
        if window is None:
            if not create:
                return None
            if len(self._windows) >= self.capacity:
                self._windows.popitem(last=False)
            window = self._windows[queue_key] = [number, 0, 0, 0, 0]
            return window
        if window[0] != number:
            previous = window[0] == number - 1
            window[3], window[4] = (window[1], window[2]) if previous else (0, 0)
            window[0], window[1], window[2] = number, 0, 0
            if create:
                self._windows.move_to_end(queue_key)  # busy again: the last to be forgotten
        return window
