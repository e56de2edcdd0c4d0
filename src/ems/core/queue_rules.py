"""Queue rules every store applies the same way: how a change merges into a queue's settings,
where a dead-letter setting points, the creation quota, and why a send is refused. Pure
functions: a store looks up what they need and writes what they decide."""

from __future__ import annotations

from collections.abc import Iterable

from ems.core.errors import (
    DeadLetterQueueNotFound,
    InvalidAttribute,
    MessageTooLarge,
    QueueFull,
    QuotaExceeded,
)
from ems.core.models import DeadLetter, NewMessage, QueueChanges, QueueConfig, StorageLimits

# the columns a dead-letter setting is stored in: target queue key, max receives, sealed id
DeadLetterColumns = tuple[int | None, int | None, bytes | None]


def merged_config(old: QueueConfig, changes: QueueChanges) -> QueueConfig:
    """The settings after ``changes``: what they name replaces, the rest stays."""
    dead_letter = None if changes.clear_dead_letter else (changes.dead_letter or old.dead_letter)
    return QueueConfig(
        visibility_timeout=_pick(changes.visibility_timeout, old.visibility_timeout),
        retention_seconds=_pick(changes.retention_seconds, old.retention_seconds),
        max_message_bytes=_pick(changes.max_message_bytes, old.max_message_bytes),
        delay_seconds=_pick(changes.delay_seconds, old.delay_seconds),
        receive_wait_seconds=_pick(changes.receive_wait_seconds, old.receive_wait_seconds),
        dead_letter=dead_letter,
        max_stored_messages=changes.max_stored_messages or old.max_stored_messages,
        max_stored_bytes=changes.max_stored_bytes or old.max_stored_bytes,
        deduplication_window_seconds=_pick(
            changes.deduplication_window_seconds, old.deduplication_window_seconds
        ),
        fifo=old.fifo,  # set at creation only
        label=changes.new_label(old.label),
    )


def dead_letter_columns(
    dead_letter: DeadLetter | None, target_key: int | None, *, own_key: int | None = None
) -> DeadLetterColumns:
    """Store ``dead_letter`` whose queue (looked up by an id that may send to it) has key
    ``target_key`` (None: no such queue), for the queue ``own_key`` (None: a new queue)."""
    if dead_letter is None:
        return None, None, None
    if target_key is None:
        raise DeadLetterQueueNotFound(
            "dead_letter.queue_id names no queue this id may send to: create the "
            "dead-letter queue first and use its queue_id (or send_id).",
            parameter="dead_letter",
        )
    if target_key == own_key:
        raise InvalidAttribute(
            "A queue cannot be its own dead-letter queue.", parameter="dead_letter"
        )
    return target_key, dead_letter.max_receives, dead_letter.sealed_queue_id


def check_quota(kind: str, owned: int, quota: int) -> None:
    """An owner holding ``owned`` of ``kind`` (queues, topics) may create one more."""
    if owned >= quota:
        raise QuotaExceeded(
            f"This API key may create at most {quota} {kind} and has {owned}; delete some, or "
            "ask the operator for a larger quota."
        )


def too_large(config: QueueConfig, messages: Iterable[NewMessage]) -> MessageTooLarge | None:
    """Why a send cannot be stored whole, if one of its messages exceeds the queue's limit."""
    limit = config.max_message_bytes
    for message in messages:
        size = message.size
        if size > limit:
            return MessageTooLarge(
                f"A message is {size} bytes (body plus attributes); this queue accepts at most "
                f"{limit}."
            )
    return None


def queue_full(config: QueueConfig, limits: StorageLimits) -> QueueFull:
    """Why a send found no room: the queue holds as many messages (or bytes) as it may."""
    return QueueFull(
        "This queue holds as many messages as it may (at most "
        f"{config.max_stored_messages or limits.max_messages:,} messages and "
        f"{config.max_stored_bytes or limits.max_bytes:,} bytes); receive and delete messages "
        "to make room, or raise max_stored_messages / max_stored_bytes."
    )


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new
