"""What the server tells its operators: the access log and ``/metrics`` (labelled by route
templates: never an id)."""

from __future__ import annotations

import logging
from typing import Final

from ems.core import metrics as metrics_format
from ems.core.metrics import Metrics
from ems.core.stream_hub import StreamHub
from ems.server.connections import ConnectionStats
from ems.server.http import Send, respond
from ems.storage.base import Store

access_log = logging.getLogger("ems.access")

# path segments that name resources; everything else in a path is an id, a handle or a token
WORDS: Final = frozenset(
    {"ems", "queue", "topic", "message", "messages", "delete", "visibility", "purge", "peek",
     "rotate", "subscription", "confirm", "crypto", "random-key", "encryption", "decryption",
     "admin", "queues", "topics", "healthz", "readyz", "metrics", "stream"}
)  # fmt: skip
PROMETHEUS: Final = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


async def render_metrics(
    send: Send,
    metrics: Metrics,
    store: Store,
    waiting: int,
    connections: ConnectionStats,
    *,
    streams: StreamHub,
) -> int:
    lines = metrics.render()
    lines += connections.render()
    lines += stream_metrics(streams)
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
    lines.extend(
        metrics_format.gauge(
            "ems_long_polls_waiting", "Receives waiting for messages.", [((), waiting)]
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
