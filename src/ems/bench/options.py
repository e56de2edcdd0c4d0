"""What a bench run was asked to do, and the budget (a deadline or a count) its workers share."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

SCENARIOS = ("send", "send-batch", "receive", "e2e", "fanout", "longpoll")
SINGLE_PROCESS = ("fanout", "longpoll")  # they own one local receiver or 10,000s of idle sockets


@dataclass(frozen=True)
class Options:
    scenario: str
    url: str = "http://127.0.0.1:8080"
    connections: int = 64
    size: int = 256
    duration: float = 10.0
    count: int | None = None
    rate: float | None = None  # e2e: default 1000/s; fanout: closed loop unless given
    batch: int = 1
    processes: int = 1
    consumers: int = 8  # e2e: long-polling consumer connections per process
    queues: int = 10  # fanout: queue subscribers
    webhooks: int = 10  # fanout: webhook subscribers (served by the bench itself)
    drain: float = 10.0  # fanout: seconds to wait after the last publish for pushes under way
    polls: int = 1000  # longpoll: idle long polls held open, one queue each
    prefill: int | None = None  # receive: messages put in the queue first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def target(self) -> Target:
        return Target.parse(self.url)

    def for_worker(self, index: int) -> Options:
        """This worker's share of a count (the first workers take the remainder)."""
        if self.count is None:
            return self
        share, extra = divmod(self.count, self.processes)
        return Options(**{**self.as_dict(), "count": share + (1 if index < extra else 0)})


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    prefix: str  # a path the server is mounted under, usually ""

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"ems bench speaks plain http, not {parts.scheme or url!r}")
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/"))


class Counter(Protocol):
    value: int


class LocalCounter:
    """A progress counter when the load runs in this process (a multiprocessing value otherwise)."""

    def __init__(self) -> None:
        self.value = 0


class Budget:
    """Shared by a worker's connections: ``take(n)`` grants up to n operations, 0 when done."""

    def __init__(self, options: Options) -> None:
        self.remaining = options.count
        self.duration = options.duration
        self.deadline = float("inf")

    def start(self) -> None:
        if self.remaining is None:
            self.deadline = time.monotonic() + self.duration

    def take(self, wanted: int) -> int:
        if self.remaining is None:
            return wanted if time.monotonic() < self.deadline else 0
        granted = min(wanted, self.remaining)
        self.remaining -= granted
        return granted

    def give_back(self, unused: int) -> None:
        if self.remaining is not None:
            self.remaining += unused
