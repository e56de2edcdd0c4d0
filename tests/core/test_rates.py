"""Per-queue rates: the last complete 10-second window, in bounded memory."""

from __future__ import annotations

from ems.core.rates import RECEIVED, SENT, QueueRates


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_is_the_last_complete_window() -> None:
    clock = Clock()
    rates = QueueRates(clock=clock)
    rates.count(1, SENT, 30)
    rates.count(1, RECEIVED, 10)
    assert rates.per_second(1) == (0.0, 0.0)  # the window is not complete yet
    clock.now += 10
    assert rates.per_second(1) == (3.0, 1.0)
    clock.now += 10
    assert rates.per_second(1) == (0.0, 0.0)  # an idle window
    rates.count(1, SENT, 5)
    clock.now += 25  # windows with nothing in between: nothing to show
    assert rates.per_second(1) == (0.0, 0.0)
    assert rates.per_second(2) == (0.0, 0.0)


def test_memory_is_bounded_and_the_least_recently_busy_queue_goes_first() -> None:
    clock = Clock()
    rates = QueueRates(capacity=2, clock=clock)
    rates.count(1, SENT, 10)
    rates.count(2, SENT, 20)
    clock.now += 10
    rates.count(1, SENT, 1)  # queue 1 is busy again: queue 2 is now the oldest
    rates.count(3, SENT, 30)
    assert rates.per_second(2) == (0.0, 0.0)
    assert rates.per_second(1) == (1.0, 0.0)
