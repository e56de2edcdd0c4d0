"""Queue attributes: SQS's names and string values on EMS queue settings.

VisibilityTimeout, MessageRetentionPeriod, DelaySeconds, ReceiveMessageWaitTimeSeconds and
MaximumMessageSize are EMS settings under other names; RedrivePolicy is the EMS dead-letter
queue; the counts, the ARN and the timestamps are read-only; ``EmsQueueId`` (read-only, given
only to the owner) is the EMS id that reaches the queue through the native API. ``Policy`` is
kept as given and returned, never enforced (see :func:`policy_of`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ems.core import limits
from ems.core.errors import InvalidRequest
from ems.core.json_input import parse_json
from ems.core.models import QueueStats, SqsQueue
from ems.core.queues import QueueView
from ems.sqs import fifo_queues
from ems.sqs.errors import error

SETTINGS: Final = {
    "VisibilityTimeout": "visibility_timeout",
    "MessageRetentionPeriod": "retention_seconds",
    "DelaySeconds": "delay_seconds",
    "ReceiveMessageWaitTimeSeconds": "receive_wait_seconds",
    "MaximumMessageSize": "max_message_bytes",
}
READ_ONLY: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "EmsQueueId",
)
NAMES: Final = frozenset(SETTINGS) | {"RedrivePolicy", "Policy", *READ_ONLY, *fifo_queues.NAMES}
# an IAM policy document is at most 20 KiB in SQS
MAX_POLICY_CHARS: Final = 20_480
UNSUPPORTED: Final = frozenset({
    "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
})  # fmt: skip
_DIGITS: Final = re.compile(r"[0-9]{1,10}")

# arn -> EMS queue id of the dead-letter queue
ResolveArn = Callable[[str], Awaitable[str]]


def _invalid(name: str, why: str = "") -> Exception:
    return error("InvalidAttributeValue", f"Invalid value for the parameter {name}.{why}")


async def to_settings(attributes: object, resolve: ResolveArn) -> dict[str, Any]:
    """SQS attributes to set (the FIFO ones taken out, see :mod:`ems.sqs.fifo_queues`), as an
    EMS queue attributes document."""
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise error("InvalidAttributeName", "Attributes must be a map of names to strings.")
    document: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in UNSUPPORTED:
            raise error("InvalidAttributeName", f"EMS does not support the attribute {name}.")
        if name == "Policy":
            continue  # see policy_of
        if name not in SETTINGS and name != "RedrivePolicy":
            raise error("InvalidAttributeName", f"Unknown or read-only attribute {name}.")
        if not isinstance(value, str):
            raise _invalid(name)
        if name == "RedrivePolicy":
            document["dead_letter"] = await _redrive(value, resolve)
            continue
        bound = limits.QUEUE_ATTRIBUTE_BOUNDS[SETTINGS[name]]
        if not _DIGITS.fullmatch(value) or not bound.low <= int(value) <= bound.high:
            raise _invalid(name, f" Reason: must be an integer from {bound.low} to {bound.high}.")
        document[SETTINGS[name]] = int(value)
    return document


async def _redrive(value: str, resolve: ResolveArn) -> dict[str, Any] | None:
    if value == "":
        return None
    try:
        policy = parse_json(value)
    except InvalidRequest:  # not JSON, nested too deep, or a lone surrogate
        raise _invalid("RedrivePolicy", " Reason: not valid JSON.") from None
    if not isinstance(policy, dict) or set(policy) != {"deadLetterTargetArn", "maxReceiveCount"}:
        raise _invalid(
            "RedrivePolicy", " Reason: give deadLetterTargetArn and maxReceiveCount (only)."
        )
    count = policy["maxReceiveCount"]
    if isinstance(count, str) and _DIGITS.fullmatch(count):
        count = int(count)
    low, high = limits.MAX_RECEIVES.low, limits.MAX_RECEIVES.high
    if not isinstance(count, int) or isinstance(count, bool) or not low <= count <= high:
        raise _invalid("RedrivePolicy", f" Reason: maxReceiveCount must be from {low} to {high}.")
    return {"queue_id": await resolve(policy["deadLetterTargetArn"]), "max_receives": count}


def policy_of(attributes: object) -> str | None:
    """The ``Policy`` attribute to store, if the request sets it: a JSON object ("" clears it).

    EMS keeps the document and returns it, so that tools that write a policy and read it back
    (Terraform, CloudFormation-like scripts) work; access is decided by EMS's own rules (each
    access key is an account, see docs/sqs.md), never by the policy.
    """
    if not isinstance(attributes, dict) or "Policy" not in attributes:
        return None
    value = attributes["Policy"]
    if value == "":
        return ""
    if not isinstance(value, str) or len(value) > MAX_POLICY_CHARS:
        raise _invalid("Policy", f" Reason: a JSON object of at most {MAX_POLICY_CHARS} chars.")
    try:
        document = parse_json(value)
    except InvalidRequest:
        raise _invalid("Policy", " Reason: not valid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid("Policy", " Reason: a policy is a JSON object.")
    return value


def check_names(names: object) -> list[str]:
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise error("InvalidAttributeName", "AttributeNames must be a list of names.")
    for name in names:
        if name != "All" and name not in NAMES:
            raise error("InvalidAttributeName", f"Unknown Attribute {name}.")
    return names


def describe(
    names: list[str],
    *,
    entry: SqsQueue,
    view: QueueView,
    stats: QueueStats,
    arn: str,
    redrive: dict[str, Any] | None,
) -> dict[str, str]:
    config = view.config
    values: dict[str, Any] = {
        "VisibilityTimeout": config.visibility_timeout,
        "MessageRetentionPeriod": config.retention_seconds,
        "DelaySeconds": config.delay_seconds,
        "ReceiveMessageWaitTimeSeconds": config.receive_wait_seconds,
        "MaximumMessageSize": config.max_message_bytes,
        "ApproximateNumberOfMessages": stats.visible,
        "ApproximateNumberOfMessagesNotVisible": stats.in_flight,
        "ApproximateNumberOfMessagesDelayed": stats.delayed,
        "CreatedTimestamp": entry.created_at_ms // 1000,
        "LastModifiedTimestamp": entry.modified_at_ms // 1000,
        "QueueArn": arn,
        "EmsQueueId": view.queue_id,
    }
    if redrive is not None:
        values["RedrivePolicy"] = json.dumps(redrive, separators=(",", ":"))
    if entry.policy:
        values["Policy"] = entry.policy
    values.update(fifo_queues.describe(config.fifo))
    wanted = set(values) if "All" in names else set(names)
    return {name: str(value) for name, value in values.items() if name in wanted}
