"""What the admin API answers: queues, topics and the server as an operator sees them.

Queues and topics appear by the SHA-256 of their ids (the server has nothing else), a queue's
label, and counts. Subscriptions appear without their signing secret, and a subscribed queue by
its ``queue_ref``: an operator steers the server without ever holding a capability.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Final

from ems.core.encoding import rfc3339
from ems.core.metrics import Metrics
from ems.core.models import QueueRecord, QueueStats, QueueSummary, StoreTotals
from ems.core.topic_models import SubscriptionRecord
from ems.server.topics import subscription_document
from ems.storage.base import Store
from ems.version import __version__

# per subscription, what an operator must not see: a secret the subscriber verifies pushes with
_HIDDEN: Final = frozenset({"signing_secret"})


def age_seconds(now_ms: int, sent_at_ms: int | None) -> int | None:
    return None if sent_at_ms is None else max(0, (now_ms - sent_at_ms) // 1000)


def backend_name(store: Store) -> str:
    return "postgresql" if "postgres" in type(store).__module__ else "sqlite"


def queue_row(
    summary: QueueSummary, stats: QueueStats | None, metrics: Metrics, now_ms: int
) -> dict[str, Any]:
    """A line of the console's queue table (``stats`` None: the queue went away meanwhile)."""
    sends, receives = metrics.queue_rates.per_second(summary.key)
    return {
        "id_hash": summary.id_hash.hex(),
        "label": summary.label,
        "created_at": rfc3339(summary.created_at_ms),
        "owner": summary.owner,
        "visible": stats.visible if stats else 0,
        "in_flight": stats.in_flight if stats else 0,
        "delayed": stats.delayed if stats else 0,
        "stored_messages": summary.stored_messages,
        "stored_bytes": summary.stored_bytes,
        "oldest_message_age_seconds": age_seconds(now_ms, summary.oldest_sent_at_ms),
        "sent_per_second": sends,
        "received_per_second": receives,
        "dead_letter_hash": summary.dead_letter_hash.hex() if summary.dead_letter_hash else None,
    }


def queue_detail(
    id_hash: bytes, record: QueueRecord, stats: QueueStats, metrics: Metrics, now_ms: int
) -> dict[str, Any]:
    config = record.config
    dead_letter = config.dead_letter
    sends, receives = metrics.queue_rates.per_second(record.key)
    return {
        "id_hash": id_hash.hex(),
        "label": config.label,
        "created_at": rfc3339(record.created_at_ms),
        "visibility_timeout": config.visibility_timeout,
        "retention_seconds": config.retention_seconds,
        "max_message_bytes": config.max_message_bytes,
        "delay_seconds": config.delay_seconds,
        "receive_wait_seconds": config.receive_wait_seconds,
        "max_stored_messages": config.max_stored_messages,
        "max_stored_bytes": config.max_stored_bytes,
        "dead_letter": (
            {"id_hash": dead_letter.queue_hash.hex(), "max_receives": dead_letter.max_receives}
            if dead_letter is not None
            else None
        ),
        "visible": stats.visible,
        "in_flight": stats.in_flight,
        "delayed": stats.delayed,
        "stored_messages": stats.stored_messages,
        "stored_bytes": stats.stored_bytes,
        "oldest_message_age_seconds": age_seconds(now_ms, stats.oldest_sent_at_ms),
        "sent_per_second": sends,
        "received_per_second": receives,
    }


def admin_subscription(record: SubscriptionRecord, next_attempt_ms: int | None) -> dict[str, Any]:
    document = {k: v for k, v in subscription_document(record).items() if k not in _HIDDEN}
    document["next_attempt_at"] = rfc3339(next_attempt_ms)
    return document


class ServerFacts:
    """What the overview says about this node: its version, backend, host and uptime."""

    def __init__(self, store: Store) -> None:
        self.backend = backend_name(store)
        self.node = f"{socket.gethostname()} (pid {os.getpid()})"
        self.started = time.monotonic()
        self.started_at_ms = int(time.time() * 1000)


def overview(
    facts: ServerFacts,
    totals: StoreTotals,
    metrics: Metrics,
    *,
    commits: tuple[int, int, float],
    waiting: int,
    now_ms: int,
) -> dict[str, Any]:
    """The overview: counters are totals since this node started; the console turns two
    readings into rates."""
    batches, operations, commit_seconds = commits
    return {
        "version": __version__,
        "backend": facts.backend,
        "node": facts.node,
        "database": totals.location,
        "started_at": rfc3339(facts.started_at_ms),
        "uptime_seconds": round(time.monotonic() - facts.started, 1),
        "storage_bytes": totals.storage_bytes,
        "totals": {
            "queues": totals.queues,
            "topics": totals.topics,
            "subscriptions": totals.subscriptions,
            "pending_confirmations": totals.pending_confirmations,
            "stored_messages": totals.stored_messages,
            "stored_bytes": totals.stored_bytes,
            "oldest_message_age_seconds": age_seconds(now_ms, totals.oldest_sent_at_ms),
            "webhook_backlog": totals.webhook_backlog,
            "failing_subscriptions": totals.failing_subscriptions,
        },
        "counters": {
            "requests": metrics.requests_total,
            "messages": dict(metrics.messages),
            "webhook_pushes": dict(metrics.pushes),
            "problems": dict(sorted(metrics.problems.items())),
            "commits": batches,
            "committed_operations": operations,
            "commit_seconds": round(commit_seconds, 6),
        },
        "long_polls_waiting": waiting,
    }
