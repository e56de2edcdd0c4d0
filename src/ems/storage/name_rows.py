"""SQS and SNS name rows and move task rows as every store returns them, mapped to domain
records (see :mod:`ems.storage.rows`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

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


class SqsQueueColumns(NamedTuple):
    """An SQS queue name row by name, in the drivers' column order."""

    account: str
    name: str
    id_hash: bytes
    sealed_queue_id: bytes
    created_at: int
    modified_at: int
    tags: str
    policy: str


def sqs_queue_from_row(row: Sequence[Any]) -> SqsQueue:
    q = SqsQueueColumns._make(row)
    return SqsQueue(
        q.account,
        q.name,
        bytes(q.id_hash),
        bytes(q.sealed_queue_id),
        q.created_at,
        q.modified_at,
        json.loads(q.tags),
        q.policy,
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


class SnsTopicColumns(NamedTuple):
    """An SNS topic name row by name, in the drivers' column order."""

    account: str
    name: str
    id_hash: bytes
    sealed_topic_id: bytes
    attributes: str
    tags: str
    created_at: int


def sns_topic_from_row(row: Sequence[Any]) -> SnsTopic:
    t = SnsTopicColumns._make(row)
    return SnsTopic(
        t.account, t.name, bytes(t.id_hash), bytes(t.sealed_topic_id), json.loads(t.attributes),
        json.loads(t.tags), t.created_at,
    )  # fmt: skip


def compact_json(document: Mapping[str, str]) -> str:
    return json.dumps(dict(document), separators=(",", ":"))


class MoveTaskColumns(NamedTuple):
    """A task as both stores' move-task queries return it (``insert_move_task``,
    ``list_move_tasks``, ``cancel_move_task``, ``claim_move_task``)."""

    key: int
    handle: str
    source_key: int
    destination_hash: bytes | None
    rate: int | None
    status: str
    to_move: int
    moved: int
    failure: str | None
    started_at: int
    finished_at: int | None
    source_label: str | None
    destination_label: str | None


def move_task_from_row(row: Sequence[Any]) -> MoveTask:
    t = MoveTaskColumns._make(row)
    return MoveTask(
        key=t.key,
        handle=t.handle,
        source_key=t.source_key,
        destination_hash=None if t.destination_hash is None else bytes(t.destination_hash),
        rate=t.rate,
        status=MoveStatus(t.status),
        to_move=t.to_move,
        moved=t.moved,
        failure=t.failure,
        started_at_ms=t.started_at,
        finished_at_ms=t.finished_at,
        source_label=t.source_label,
        destination_label=t.destination_label,
    )


class MoveSourceColumns(NamedTuple):
    """A new task's source (``move_source``)."""

    key: int
    partition: int
    is_dead_letter: bool


class MoveStepColumns(NamedTuple):
    """A task, its lease and its source queue, as a step reads them (``move_task_for_step``;
    the source's columns are null when the queue was deleted)."""

    status: str
    lease_owner: str | None
    lease_until: int
    destination_hash: bytes | None
    source_key: int | None
    partition: int | None
    source_hash: bytes | None
    retention_seconds: int | None


class MovableColumns(NamedTuple):
    """A message a step moves, whole (``movable``): with the queue it came from (a
    dead-lettered message's ``source_hash``) and its stored size."""

    seq: int
    source_hash: bytes | None
    size: int
    message_id: str
    correlation_id: str | None
    attributes: str | None
    body: bytes
    cipher: int | None
    group_id: str | None
