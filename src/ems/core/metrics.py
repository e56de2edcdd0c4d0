"""What EMS counts, rendered in the Prometheus text format for ``GET /metrics``.

A small registry instead of prometheus_client: one event loop updates everything, so plain
dicts are enough, and one lookup per request costs less on the hot path than a locked client
library. Label values are never ids: routes are templates, queues a hash prefix.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence

from ems.core.rates import QueueRates

# request latencies, in seconds: 0.5 ms to 10 s
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
MESSAGE_EVENTS = ("sent", "received", "deleted", "dead_lettered", "redriven", "published")
PUSH_OUTCOMES = ("delivered", "retried", "failed")
# "deferred": held back by the recipient's rate limit, not attempted
EMAIL_OUTCOMES = ("delivered", "retried", "failed", "deferred")


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(int(value)) if value == int(value) else repr(value)


def gauge(
    name: str,
    help_text: str,
    samples: Iterable[tuple[Sequence[str], float]],
    label_names: Sequence[str] = (),
) -> Iterable[str]:
    """A gauge measured at scrape time."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for labels, value in samples:
        yield f"{name}{_labels(label_names, labels)} {_number(value)}"


def with_label(lines: Iterable[str], name: str, value: str) -> list[str]:
    """The samples among ``lines`` with one more label, first; comments unchanged."""
    pair = f'{name}="{_escape(value)}"'
    labelled = []
    for line in lines:
        if line.startswith("#"):
            labelled.append(line)
            continue
        cut = min(i for i in (line.find("{"), line.find(" ")) if i >= 0)
        rest = line[cut + 1 :] if line[cut] == "{" else "}" + line[cut:]
        labelled.append(f"{line[:cut]}{{{pair}{',' if rest[0] != '}' else ''}{rest}")
    return labelled


class _Requests:
    __slots__ = ("buckets", "count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(BUCKETS)


class Metrics:
    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], _Requests] = {}
        self.messages = dict.fromkeys(MESSAGE_EVENTS, 0)
        self.pushes = dict.fromkeys(PUSH_OUTCOMES, 0)
        self.emails = dict.fromkeys(EMAIL_OUTCOMES, 0)
        # problem type slug -> answers: a fixed catalogue, so the labels are bounded
        self.problems: Counter[str] = Counter()
        self.queue_rates = QueueRates()
        # ``ems serve --workers``: which worker process these counters are of (a label on every
        # series this process counts; what the database says is the same from every worker)
        self.worker: str | None = None

    @property
    def requests_total(self) -> int:
        return sum(entry.count for entry in self._requests.values())

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        entry = self._requests.get(key)
        if entry is None:
            entry = self._requests[key] = _Requests()
        entry.count += 1
        entry.seconds += seconds
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            entry.buckets[index] += 1

    def count(self, event: str, amount: int = 1) -> None:
        self.messages[event] += amount

    def render(self) -> list[str]:
        lines = [
            "# HELP ems_http_requests_total HTTP requests by route, method and status.",
            "# TYPE ems_http_requests_total counter",
        ]
        by_route: dict[str, tuple[list[int], list[float]]] = {}
        for (route, method, status), entry in sorted(self._requests.items()):
            labels = _labels(("route", "method", "status"), (route, method, str(status)))
            lines.append(f"ems_http_requests_total{labels} {entry.count}")
            counts, totals = by_route.setdefault(route, ([0] * len(BUCKETS), [0.0, 0.0]))
            for i, n in enumerate(entry.buckets):
                counts[i] += n
            totals[0] += entry.seconds
            totals[1] += entry.count
        lines += [
            "# HELP ems_http_request_duration_seconds HTTP request latency by route.",
            "# TYPE ems_http_request_duration_seconds histogram",
        ]
        for route, (counts, (seconds, count)) in sorted(by_route.items()):
            cumulative = 0
            for bound, n in zip(BUCKETS, counts, strict=True):
                cumulative += n
                labels = _labels(("route", "le"), (route, _number(bound)))
                lines.append(f"ems_http_request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels(("route", "le"), (route, "+Inf"))
            lines.append(f"ems_http_request_duration_seconds_bucket{labels} {_number(count)}")
            route_label = _labels(("route",), (route,))
            lines.append(f"ems_http_request_duration_seconds_sum{route_label} {_number(seconds)}")
            lines.append(f"ems_http_request_duration_seconds_count{route_label} {_number(count)}")
        lines += [
            "# HELP ems_messages_total Messages sent, received, deleted, dead-lettered, published.",
            "# TYPE ems_messages_total counter",
            *(f'ems_messages_total{{event="{e}"}} {n}' for e, n in self.messages.items()),
            "# HELP ems_problems_total Error answers by problem type.",
            "# TYPE ems_problems_total counter",
            *(f'ems_problems_total{{type="{t}"}} {n}' for t, n in sorted(self.problems.items())),
            "# HELP ems_webhook_push_attempts_total Webhook push attempts by outcome.",
            "# TYPE ems_webhook_push_attempts_total counter",
            *(
                f'ems_webhook_push_attempts_total{{outcome="{o}"}} {n}'
                for o, n in self.pushes.items()
            ),
            "# HELP ems_email_send_attempts_total Email subscription mails by outcome.",
            "# TYPE ems_email_send_attempts_total counter",
            *(
                f'ems_email_send_attempts_total{{outcome="{o}"}} {n}'
                for o, n in self.emails.items()
            ),
        ]
        return lines
