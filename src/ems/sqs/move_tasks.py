"""Start/List/CancelMessageMoveTask: SQS's dead-letter redrive on ems.core.redrive.

A task handle is, as on AWS, opaque to clients but carries the source queue's ARN (base64 of a
JSON object), so that CancelMessageMoveTask, which names only the handle, finds the queue and
checks that the caller may see it before anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from ems.core import limits
from ems.core.errors import (
    EmsError,
    InvalidRequest,
    MoveTaskNotFound,
    MoveTaskRunning,
    QueueNotFound,
)
from ems.core.move_models import MoveStatus, MoveTask
from ems.core.redrive import RATE, Redrive
from ems.sqs.errors import SqsError, error, from_ems, invalid, missing
from ems.sqs.names import Caller, integer, name_from_arn, text
from ems.sqs.registry import Registry

LIST_RESULTS: Final = limits.Bound("MaxResults", 1, 10, "results")
SQS_RATE: Final = limits.Bound("MaxNumberOfMessagesPerSecond", RATE.low, RATE.high, "messages")


def _not_found(parameter: str) -> SqsError:
    return error(
        "ResourceNotFoundException",
        f"The resource that you specified for the {parameter} parameter doesn't exist.",
    )


def _no_task() -> SqsError:
    return error("ResourceNotFoundException", "Task does not exist.")


class MoveTaskActions:
    def __init__(self, redrive: Redrive, registry: Registry) -> None:
        self.redrive = redrive
        self.registry = registry

    async def _queue(self, caller: Caller, arn: object, parameter: str) -> tuple[str, str]:
        """The queue an ARN names, as (its EMS id, its ARN as this caller writes it)."""
        if arn is None or arn == "":
            raise missing(parameter)
        try:
            name = name_from_arn(caller, arn, parameter)
            _, queue_id = await self.registry.find(caller.namespace, name)
        except SqsError as failure:
            if failure.shape != "QueueDoesNotExist":
                raise
            raise _not_found(parameter) from None
        return queue_id, caller.arn(name)

    async def start_task(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        source_id, source_arn = await self._queue(caller, params.get("SourceArn"), "SourceArn")
        destination_id = destination_arn = None
        if params.get("DestinationArn") is not None:
            destination_id, destination_arn = await self._queue(
                caller, params["DestinationArn"], "DestinationArn"
            )
        rate = integer(params, "MaxNumberOfMessagesPerSecond", SQS_RATE)
        try:
            task = await self.redrive.start(
                source_id,
                destination_id=destination_id,
                rate=rate,
                labels=(source_arn, destination_arn),
                # SQS redrives FIFO dead-letter queues too (to FIFO queues)
                fifo_allowed=True,
            )
        except (InvalidRequest, MoveTaskRunning) as failure:
            # not a dead-letter queue, one task at a time, the destination is the source, ...
            raise invalid(failure.detail) from None
        return {"TaskHandle": _handle(task.handle, source_arn)}

    async def list_tasks(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        source_id, source_arn = await self._queue(caller, params.get("SourceArn"), "SourceArn")
        limit = integer(params, "MaxResults", LIST_RESULTS) or 1
        tasks = await self.redrive.tasks(source_id, limit=limit)
        return {"Results": [_entry(task, source_arn) for task in tasks]}

    async def cancel_task(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        handle = text(params, "TaskHandle")
        if not handle:
            raise missing("TaskHandle")
        task_id, arn = _parse_handle(handle)
        try:
            source_id, _ = await self._queue(caller, arn, "SourceArn")
            task = await self.redrive.cancel(source_id, task_id)
        except SqsError as failure:
            if failure.shape == "ResourceNotFoundException":
                raise _no_task() from None
            raise
        except (MoveTaskNotFound, QueueNotFound):
            raise _no_task() from None
        except EmsError as failure:
            raise from_ems(failure) from None
        return {"ApproximateNumberOfMessagesMoved": task.moved}


def _handle(task_id: str, source_arn: str) -> str:
    document = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode()


def _parse_handle(handle: str) -> tuple[str, str]:
    try:
        document = json.loads(base64.urlsafe_b64decode(handle.encode()))
    except (binascii.Error, ValueError):
        raise _no_task() from None
    if not isinstance(document, dict):
        raise _no_task()
    task_id, arn = document.get("taskId"), document.get("sourceArn")
    if not isinstance(task_id, str) or not isinstance(arn, str):
        raise _no_task()
    return task_id, arn


def _entry(task: MoveTask, source_arn: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if task.status is MoveStatus.RUNNING:
        # as on AWS, only a running task shows its handle (the one thing to do with it: cancel)
        entry["TaskHandle"] = _handle(task.handle, source_arn)
    entry["Status"] = task.status.value
    entry["SourceArn"] = task.source_label or source_arn
    if task.destination_label is not None:
        entry["DestinationArn"] = task.destination_label
    if task.rate is not None:
        entry["MaxNumberOfMessagesPerSecond"] = task.rate
    entry["ApproximateNumberOfMessagesMoved"] = task.moved
    entry["ApproximateNumberOfMessagesToMove"] = task.to_move
    if task.failure is not None:
        entry["FailureReason"] = task.failure
    entry["StartedTimestamp"] = task.started_at_ms
    return entry
