"""Latency samples and the figures a run reports."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean of ``samples_ms`` (nearest rank), in milliseconds; zeros if none."""
    if not samples_ms:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0, "count": 0}
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
        return round(ordered[index], 3)

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "count": len(ordered),
    }


@dataclass
class Tally:
    """What one worker (a process, or the whole run) counted."""

    operations: int = 0  # messages sent, received+deleted, published, or wake-ups
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    extra_latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def sample(self, name: str, value_ms: float) -> None:
        self.extra_latencies_ms.setdefault(name, []).append(value_ms)

    def merge(self, other: Tally) -> None:
        self.operations += other.operations
        self.requests += other.requests
        self.errors.update(other.errors)
        self.latencies_ms.extend(other.latencies_ms)
        for name, values in other.extra_latencies_ms.items():
            self.extra_latencies_ms.setdefault(name, []).extend(values)
        self.notes.extend(note for note in other.notes if note not in self.notes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "requests": self.requests,
            "errors": dict(self.errors),
            "latencies_ms": self.latencies_ms,
            "extra_latencies_ms": self.extra_latencies_ms,
            "cpu_seconds": self.cpu_seconds,
            "wall_seconds": self.wall_seconds,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(
            operations=data["operations"],
            requests=data["requests"],
            errors=Counter(data["errors"]),
            latencies_ms=data["latencies_ms"],
            extra_latencies_ms=data["extra_latencies_ms"],
            cpu_seconds=data["cpu_seconds"],
            wall_seconds=data["wall_seconds"],
            notes=data["notes"],
        )
