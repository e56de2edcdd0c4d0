"""SNS FIFO topics: ``.fifo`` names, their attributes, MessageGroupId and MessageDeduplicationId,
SequenceNumber, and which subscriptions they take, with SNS's own errors.

A FIFO topic is a native FIFO topic (:mod:`ems.core.fifo_topics`), which enforces the rules
again underneath. ``ContentBasedDeduplication`` and ``FifoThroughputScope`` may change after
creation (SetTopicAttributes), so a publish is keyed here, from the topic's current attributes;
``FifoThroughputScope=MessageGroup`` makes deduplication ids count per group, as in SNS.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

from ems.core.fifo import DeduplicationScope, FifoSettings, scoped_key, valid_id
from ems.sns.wire import invalid

SUFFIX: Final = ".fifo"
FIFO_NAME_ERROR: Final = (
    "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase "
    "ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters "
    "long."
)
SCOPES: Final = ("Topic", "MessageGroup")


def is_fifo(attributes: Mapping[str, str]) -> bool:
    return attributes.get("FifoTopic") == "true"


def check_attribute(name: str, value: str, *, fifo: bool) -> str:
    """A FIFO attribute's value as kept, on a topic that is FIFO or not."""
    if name == "ContentBasedDeduplication":
        if value.lower() not in ("true", "false"):
            raise invalid("ContentBasedDeduplication")
        value = value.lower()
    elif value not in SCOPES:
        raise invalid("FifoThroughputScope", "FifoThroughputScope must be Topic or MessageGroup")
    if not fifo:
        raise invalid(name, f"{name} can only be set for FIFO topics")
    return value


def settings(attributes: Mapping[str, str]) -> FifoSettings:
    """The FIFO settings of a topic's current attributes."""
    group = attributes.get("FifoThroughputScope") == "MessageGroup"
    return FifoSettings(
        content_based_deduplication=attributes.get("ContentBasedDeduplication") == "true",
        deduplication_scope=DeduplicationScope.GROUP if group else DeduplicationScope.QUEUE,
    )


def publish_ids(attributes: Mapping[str, str], params: Mapping[str, Any]) -> tuple[str, str, bytes]:
    """A FIFO publish's group, deduplication id and key hash, or SNS's InvalidParameter."""
    group = params.get("MessageGroupId")
    if not group:
        raise invalid("The MessageGroupId parameter is required for FIFO topics")
    _check_id(group, "MessageGroupId")
    given = params.get("MessageDeduplicationId")
    topic = settings(attributes)
    if given:
        deduplication_id = _check_id(given, "MessageDeduplicationId")
    elif topic.content_based_deduplication:
        deduplication_id = hashlib.sha256(str(params.get("Message", "")).encode()).hexdigest()
    else:
        raise invalid(
            "The topic should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )
    return group, deduplication_id, scoped_key(topic, group, deduplication_id)


def _check_id(value: object, name: str) -> str:
    if not valid_id(value):
        raise invalid(
            name,
            f"{name} can only include alphanumeric and punctuation characters. 1 to 128 in length.",
        )
    return value


def check_subscription(topic_fifo: bool, protocol: str, queue_fifo: bool | None) -> None:
    """SNS's refusals: a FIFO topic takes SQS FIFO queues only, a standard topic no FIFO queue
    (``queue_fifo`` None: not a queue)."""
    if topic_fifo and protocol != "sqs":
        raise invalid(f"Invalid protocol type: {protocol}")
    if topic_fifo and queue_fifo is False:
        raise invalid("Invalid parameter: Endpoint", "Please use FIFO SQS queue")
    if not topic_fifo and queue_fifo:
        raise invalid(
            "Invalid parameter: Endpoint",
            "FIFO SQS Queues can not be subscribed to standard SNS topics",
        )


class SequenceNumbers:
    """SequenceNumber for FIFO publishes: 20 digits that increase on this server, from the
    clock in nanoseconds (SNS's are 128-bit, increasing per group, non-consecutive). Across
    PostgreSQL nodes they follow the nodes' clocks."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:020d}"
