"""What the server tells its operators: the access log and ``/metrics`` (labelled by route
templates: never an id)."""

from __future__ import annotations

import logging
from typing import Final

from ems.asgi import Send, respond
from ems.core import metrics as metrics_format
from ems.core.metrics import Metrics
from ems.core.models import QueueOrder, QueuePage
from ems.core.stream_hub import StreamHub
from ems.server.connections import ConnectionStats
from ems.storage.base import Store

access_log = logging.getLogger("ems.access")

# path segments that name resources; everything else in a path is an id, a handle or a token
WORDS: Final = frozenset(
    {"ems", "queue", "topic", "message", "messages", "delete", "visibility", "purge", "peek",
     "rotate", "subscription", "confirm", "crypto", "random-key", "encryption", "decryption",
     "admin", "queues", "topics", "healthz", "readyz", "metrics", "console", "overview",
     "queue-table", "subscriptions", "retry", "stream"}
)  # fmt: skip
PROMETHEUS: Final = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


async def render_metrics(  # noqa: PLR0917 - what one scrape reads
    send: Send,
    metrics: Metrics,
    store: Store,
    waiting: int,
    connections: ConnectionStats,
    labelled_queues: int = 0,
    *,
    streams: StreamHub,
) -> int:
    lines = metrics.render()
    lines += connections.render()
    lines += stream_metrics(streams)
    lines += metrics_format.gauge(
        "ems_long_polls_waiting", "Receives waiting for messages.", [((), waiting)]
    )
    if metrics.worker is not None:  # this process's series, one worker of several
        lines = metrics_format.with_label(lines, "worker", metrics.worker)
    lines += await _database_gauges(store)
    if labelled_queues:
        lines += await _labelled_queue_gauges(store, labelled_queues)
    deepest = await store.deepest_queues(10)
    now = store.clock.now_ms()
    lines.extend(
        metrics_format.gauge(
            "ems_queue_messages",
            "Messages stored in the deepest queues (by the first 8 bytes of their id hash).",
            [((q.id_hash[:8].hex(),), q.stored_messages) for q in deepest],
            ("queue",),
        )
    )
    lines.extend(
        metrics_format.gauge(
            "ems_queue_oldest_message_age_seconds",
            "Age of the oldest message in the deepest queues.",
            [
                ((q.id_hash[:8].hex(),), (now - q.oldest_sent_at_ms) / 1000)
                for q in deepest
                if q.oldest_sent_at_ms is not None
            ],
            ("queue",),
        )
    )
    return await respond(send, 200, ("\n".join(lines) + "\n").encode(), PROMETHEUS)


def stream_metrics(streams: StreamHub) -> list[str]:
    lines = list(
        metrics_format.gauge(
            "ems_streams_open",
            "Live streams (Server-Sent Events) open, by kind.",
            [((kind,), n) for kind, n in streams.open.items()],
            ("kind",),
        )
    )
    lines += [
        "# HELP ems_streams_refused_total Streams refused by a cap (429 too-many-streams).",
        "# TYPE ems_streams_refused_total counter",
        *(f'ems_streams_refused_total{{cap="{c}"}} {n}' for c, n in streams.refused.items()),
        "# HELP ems_stream_events_total Messages written to live streams, by kind.",
        "# TYPE ems_stream_events_total counter",
        *(f'ems_stream_events_total{{kind="{k}"}} {n}' for k, n in streams.events.items()),
    ]
    return lines


async def _database_gauges(store: Store) -> list[str]:
    """What the whole database holds (every node's work, on PostgreSQL), and this node's commits."""
    totals = await store.admin_totals()
    now = store.clock.now_ms()
    oldest = (
        [] if totals.oldest_sent_at_ms is None else [((), (now - totals.oldest_sent_at_ms) / 1000)]
    )
    batches, operations, seconds = store.commit_stats
    lines: list[str] = []
    for name, help_text, value in (
        ("ems_queues", "Queues.", totals.queues),
        ("ems_stored_messages", "Messages stored in all queues.", totals.stored_messages),
        ("ems_stored_bytes", "Bytes of message bodies stored in all queues.", totals.stored_bytes),
        ("ems_topics", "Topics.", totals.topics),
        ("ems_subscriptions", "Topic subscriptions.", totals.subscriptions),
        ("ems_pending_confirmations", "Webhook subscriptions waiting for confirmation.",
         totals.pending_confirmations),
        ("ems_webhook_backlog", "Webhook pushes not yet made.", totals.webhook_backlog),
        ("ems_failing_subscriptions", "Subscriptions whose last push failed, with pushes to make.",
         totals.failing_subscriptions),
        ("ems_storage_bytes", "Bytes the database takes on disk.", totals.storage_bytes),
    ):  # fmt: skip
        lines.extend(metrics_format.gauge(name, help_text, [((), value)]))
    lines.extend(
        metrics_format.gauge(
            "ems_oldest_message_age_seconds", "Age of the oldest message in any queue.", oldest
        )
    )
    counters: tuple[tuple[str, str, float], ...] = (
        ("ems_commits_total", "Write transactions committed by this node.", batches),
        ("ems_committed_operations_total", "Operations in those transactions.", operations),
        ("ems_commit_seconds_total", "Seconds spent in those transactions.", seconds),
    )
    for counter, text, total in counters:
        lines += [f"# HELP {counter} {text}", f"# TYPE {counter} counter", f"{counter} {total!r}"]
    return lines


async def _labelled_queue_gauges(store: Store, limit: int) -> list[str]:
    """Series per labelled queue, for at most ``limit`` of them (in label order): opt-in, as
    labels are chosen by whoever creates queues; the id hash prefix keeps series distinct."""
    _, found = await store.admin_queue_page(QueuePage(order=QueueOrder.LABEL, limit=limit))
    labelled = [q for q in found if q.label is not None]
    now = store.clock.now_ms()
    names = ("label", "queue")
    lines = list(
        metrics_format.gauge(
            "ems_labelled_queue_messages",
            "Messages stored in each labelled queue.",
            [((q.label or "", q.id_hash[:8].hex()), q.stored_messages) for q in labelled],
            names,
        )
    )
    lines.extend(
        metrics_format.gauge(
            "ems_labelled_queue_oldest_message_age_seconds",
            "Age of the oldest message in each labelled queue.",
            [
                ((q.label or "", q.id_hash[:8].hex()), (now - q.oldest_sent_at_ms) / 1000)
                for q in labelled
                if q.oldest_sent_at_ms is not None
            ],
            names,
        )
    )
    return lines
