"""What the server tells its operators: the access log and ``/metrics`` (labelled by route
templates: never an id)."""

from __future__ import annotations

import logging
from typing import Final

from ems.core import metrics as metrics_format
from ems.core.metrics import Metrics
from ems.server.connections import ConnectionStats
from ems.server.http import Send, respond
from ems.storage.base import Store

access_log = logging.getLogger("ems.access")

# path segments that name resources; everything else in a path is an id, a handle or a token
WORDS: Final = frozenset(
    {"ems", "queue", "topic", "message", "messages", "delete", "visibility", "purge", "peek",
     "rotate", "subscription", "confirm", "crypto", "random-key", "encryption", "decryption",
     "admin", "queues", "topics", "healthz", "readyz", "metrics", "console", "overview",
     "queue-table", "subscriptions", "retry"}
)  # fmt: skip
PROMETHEUS: Final = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


async def render_metrics(
    send: Send, metrics: Metrics, store: Store, waiting: int, connections: ConnectionStats
) -> int:
    lines = metrics.render()
    lines += connections.render()
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
