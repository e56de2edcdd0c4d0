"""Queues as JSON answers: a queue's attributes, a new queue's ids, its counts, and the
per-entry results of a batch delete or visibility change."""

from __future__ import annotations

from typing import Any

from ems.core import capabilities
from ems.core.errors import EmsError
from ems.core.models import QueueStats
from ems.core.queues import NewQueue, QueueView
from ems.server import fifo_sends, problems


def queue_document(view: QueueView) -> dict[str, Any]:
    config = view.config
    dead_letter = config.dead_letter
    return {
        "queue_id": view.queue_id,
        # the name a topic's subscription listing shows for this queue
        "queue_ref": capabilities.reference(capabilities.id_hash(view.queue_id)),
        "visibility_timeout": config.visibility_timeout,
        "retention_seconds": config.retention_seconds,
        "max_message_bytes": config.max_message_bytes,
        "delay_seconds": config.delay_seconds,
        "receive_wait_seconds": config.receive_wait_seconds,
        "deduplication_window_seconds": config.deduplication_window_seconds,
        **fifo_sends.attributes_document(config.fifo),
        "max_stored_messages": view.max_stored_messages,
        "max_stored_bytes": view.max_stored_bytes,
        "label": config.label,
        "dead_letter": (
            {"queue_id": view.dead_letter_queue_id, "max_receives": dead_letter.max_receives}
            if dead_letter is not None
            else None
        ),
    }


def new_queue_document(created: NewQueue) -> dict[str, Any]:
    return {
        "queue_id": created.view.queue_id,
        "send_id": created.send_id,
        "receive_id": created.receive_id,
        **{k: v for k, v in queue_document(created.view).items() if k != "queue_id"},
    }


def stats_document(stats: QueueStats, now_ms: int) -> dict[str, Any]:
    oldest = stats.oldest_sent_at_ms
    return {
        "messages_visible": stats.visible,
        "messages_in_flight": stats.in_flight,
        "messages_delayed": stats.delayed,
        "oldest_message_age_seconds": (
            max(0, (now_ms - oldest) // 1000) if oldest is not None else None
        ),
        "stored_messages": stats.stored_messages,
        "stored_bytes": stats.stored_bytes,
    }


def batch_results(handles: list[str], outcomes: list[EmsError | None]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for handle, outcome in zip(handles, outcomes, strict=True):
        if outcome is None:
            results.append({"receipt_handle": handle, "status": 204})
        else:
            results.append(
                {
                    "receipt_handle": handle,
                    "status": problems.status_of(outcome),
                    "error": problems.problem(outcome),
                }
            )
    return results
