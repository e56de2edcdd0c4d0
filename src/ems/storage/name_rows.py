"""SQS and SNS name rows and move task rows as every store returns them, mapped to domain
records (see :mod:`ems.storage.rows`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ems.core.models import (
    SqsQueue,
)
from ems.core.move_models import MoveStatus, MoveTask
from ems.core.sns_models import SnsTopic


def sqs_queue_values(entry: SqsQueue) -> tuple[Any, ...]:
    """The insert parameters of an SQS name, in the order of both stores' ``sqs_insert``."""
    return (
        entry.account,
        entry.name,
        entry.queue_hash,
        entry.sealed_queue_id,
        sqs_tags_value(entry.tags),
        entry.created_at_ms,
        entry.modified_at_ms,
        entry.policy,
    )


def sqs_queue_from_row(row: Sequence[Any]) -> SqsQueue:
    account, name, id_hash, sealed, created_at, modified_at, tags, policy = row
    return SqsQueue(
        account,
        name,
        bytes(id_hash),
        bytes(sealed),
        created_at,
        modified_at,
        json.loads(tags),
        policy,
    )


def sqs_tags_value(tags: Mapping[str, str] | None) -> str | None:
    return None if tags is None else json.dumps(dict(tags), separators=(",", ":"))


def sns_topic_values(entry: SnsTopic) -> tuple[Any, ...]:
    """The insert parameters of an SNS topic name, in the order of both stores' ``sns_insert``."""
    return (
        entry.account,
        entry.name,
        entry.topic_hash,
        entry.sealed_topic_id,
        compact_json(entry.attributes),
        compact_json(entry.tags),
        entry.created_at_ms,
    )


def sns_topic_from_row(row: Sequence[Any]) -> SnsTopic:
    account, name, id_hash, sealed, attributes, tags, created_at = row
    return SnsTopic(
        account, name, bytes(id_hash), bytes(sealed), json.loads(attributes), json.loads(tags),
        created_at,
    )  # fmt: skip


def compact_json(document: Mapping[str, str]) -> str:
    return json.dumps(dict(document), separators=(",", ":"))


def move_task_from_row(row: Sequence[Any]) -> MoveTask:
    """A task as both stores' move-task queries return it."""
    (key, handle, source_key, destination_hash, rate, status, to_move, moved, failure,
     started_at, finished_at, source_label, destination_label) = row  # fmt: skip
    return MoveTask(
        key=key,
        handle=handle,
        source_key=source_key,
        destination_hash=None if destination_hash is None else bytes(destination_hash),
        rate=rate,
        status=MoveStatus(status),
        to_move=to_move,
        moved=moved,
        failure=failure,
        started_at_ms=started_at,
        finished_at_ms=finished_at,
        source_label=source_label,
        destination_label=destination_label,
    )
