"""FIFO topics, pure: their settings, which subscriptions they take, and how a publish is keyed.

A FIFO topic (``{"fifo": true}``, or an SNS ``.fifo`` topic) needs a message group on every
publish and deduplicates publishes as a FIFO queue deduplicates sends: by the deduplication id
given (``EMS-Deduplication-Id`` / ``Idempotency-Key``), else by the body's SHA-256 when
``content_based_deduplication`` is on; a repeat within 5 minutes stores nothing. It delivers
only to FIFO queues, as SNS FIFO topics do; and, as SNS refuses FIFO queues on standard topics,
a standard topic does not take a FIFO queue either (its publishes have no group to keep in
order). The fan-out gives each copy the publish's group and deduplication id, so each subscribed
FIFO queue keeps every group in publish order and deduplicates the copies by its own window and
scope (a copy whose id the queue already holds is not stored again, as in SQS).
"""

from __future__ import annotations

from typing import Final

from ems.core import fifo
from ems.core.errors import InvalidAttribute, InvalidRequest
from ems.core.fifo import FifoSettings

TOPIC_ATTRIBUTES: Final = frozenset({"fifo", "content_based_deduplication"})


def settings_from(document: dict[str, object]) -> FifoSettings | None:
    """A new topic's FIFO settings (None: a standard topic), from its JSON attributes."""
    value = document.get("fifo", False)
    if not isinstance(value, bool):
        raise InvalidAttribute("fifo must be true or false.", parameter="fifo")
    content_based = document.get("content_based_deduplication")
    if content_based is not None and not isinstance(content_based, bool):
        raise InvalidAttribute(
            "content_based_deduplication must be true or false.",
            parameter="content_based_deduplication",
        )
    if not value:
        if content_based is not None:
            raise InvalidAttribute(
                "content_based_deduplication is for FIFO topics only: create the topic with "
                '"fifo": true.',
                parameter="content_based_deduplication",
            )
        return None
    return FifoSettings(content_based_deduplication=bool(content_based))


def check_queue_subscription(topic: FifoSettings | None, queue: FifoSettings | None) -> None:
    """A FIFO topic feeds FIFO queues only, and a standard topic standard queues only."""
    if topic is not None and queue is None:
        raise InvalidRequest(
            "A FIFO topic delivers to FIFO queues only: this is a standard queue.",
            parameter="queue_id",
        )
    if topic is None and queue is not None:
        raise InvalidRequest(
            "A FIFO queue can only be subscribed to a FIFO topic: this topic is standard, and "
            "its messages have no group to keep in order.",
            parameter="queue_id",
        )


def refuse_push(topic: FifoSettings | None, parameter: str) -> None:
    """Webhooks and email cannot keep a group's order: a FIFO topic takes neither."""
    if topic is not None:
        raise InvalidRequest(
            "A FIFO topic delivers to FIFO queues only, not to webhooks or email addresses.",
            parameter=parameter,
        )


def publish_ids(
    topic: FifoSettings | None,
    group: str | None,
    deduplication: str | None,
    idempotency_key: str | None,
    body: bytes,
    *,
    where: str,
) -> tuple[str, str, bytes] | None:
    """A FIFO publish's group, deduplication id and key hash; None on a standard topic, which
    refuses group and deduplication ids (they would mean nothing there). On a FIFO topic an
    ``Idempotency-Key`` is the deduplication id, as on a FIFO queue."""
    if topic is None:
        if group is not None or deduplication is not None:
            raise InvalidRequest(
                "Group and deduplication ids are for FIFO topics; this is a standard topic "
                "(use Idempotency-Key for idempotent publishes).",
                parameter=where if group is not None else "EMS-Deduplication-Id",
            )
        return None
    group = fifo.require_group(group, where, what="topic")
    given = deduplication or idempotency_key
    deduplication_id = fifo.deduplication_id(topic, given, body, what="topic")
    return group, deduplication_id, fifo.scoped_key(topic, group, deduplication_id)


def copy_key(queue: FifoSettings, group_id: str, deduplication_id: str) -> bytes:
    """The key a subscribed FIFO queue remembers a publish's copy by (its own scope)."""
    return fifo.scoped_key(queue, group_id, deduplication_id)
