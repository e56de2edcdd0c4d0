"""Messages of FIFO queues in SQS's words: ``MessageGroupId``, ``MessageDeduplicationId`` and
``SequenceNumber``, on the native FIFO sends (:mod:`ems.core.fifo`).

A FIFO send names its group and is deduplicated by its ``MessageDeduplicationId`` or, with
``ContentBasedDeduplication``, by the SHA-256 of its body; a repeat within the window stores
nothing and is answered with the original ``MessageId``, as SQS does. The deduplication id is
kept with the message (the ``sqs:deduplication_id`` record) so that a receive can show it.

On a standard queue SQS takes ``MessageGroupId`` for its fair queues (the group is a tenant
whose backlog must not delay the others). EMS keeps the group with the message and returns it
as the ``MessageGroupId`` system attribute; it neither orders nor schedules by it.
``MessageDeduplicationId`` is refused there, as SQS refuses it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, NamedTuple

from ems.core import fifo
from ems.core.fifo import FifoSettings
from ems.core.models import StoredMessage
from ems.sqs.errors import invalid, missing
from ems.sqs.names import shown

GROUP: Final = "MessageGroupId"
DEDUPLICATION: Final = "MessageDeduplicationId"
# EMS's records of what SQS shows as system attributes ("sqs:" names are not message attributes)
GROUP_ATTRIBUTE: Final = "sqs:group_id"
DEDUPLICATION_ATTRIBUTE: Final = "sqs:deduplication_id"
# SQS's sequence numbers are large decimal numbers; EMS's (the message's seq, which only grows)
# are written with 20 digits, so that they also compare as strings
SEQUENCE_DIGITS: Final = 20


class FifoSend(NamedTuple):
    """A send's group and deduplication, as stored."""

    group_id: str | None  # the native group (FIFO queues only)
    key: bytes | None  # the deduplication key hash (FIFO queues only)
    records: dict[str, str]  # what the message keeps for a receive to show


def check_id(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not fifo.valid_id(value):
        raise invalid(
            f"Value {shown(value)} for parameter {name} is invalid. Reason: {name} can only "
            "include alphanumeric and punctuation characters. 1 to 128 in length."
        )
    return value


def send_of(
    settings: FifoSettings | None, params: dict[str, Any], body: bytes, delay: int | None
) -> FifoSend:
    """The group and deduplication of one SendMessage (or batch entry), refused as SQS does."""
    group = check_id(params, GROUP)
    deduplication = check_id(params, DEDUPLICATION)
    if settings is None:
        if deduplication is not None:
            raise invalid(
                f"Value {deduplication} for parameter {DEDUPLICATION} is invalid. Reason: The "
                "request includes a parameter that is not valid for this queue type."
            )
        return FifoSend(None, None, {} if group is None else {GROUP_ATTRIBUTE: group})
    if group is None:
        raise missing(GROUP)
    if delay:
        raise invalid(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include "
            "parameter that is not valid for this queue type."
        )
    if deduplication is None:
        if not settings.content_based_deduplication:
            raise invalid(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
        deduplication = hashlib.sha256(body).hexdigest()
    key = fifo.deduplication_key(settings, group, deduplication, body)
    return FifoSend(group, key, {DEDUPLICATION_ATTRIBUTE: deduplication})


def sequence_number(seq: int) -> str:
    return str(seq).zfill(SEQUENCE_DIGITS)


def system_attributes(message: StoredMessage) -> dict[str, str]:
    """The FIFO system attributes of a received message (the group alone on a standard queue)."""
    found: dict[str, str] = {}
    if message.group_id is not None:
        found[GROUP] = message.group_id
        found["SequenceNumber"] = sequence_number(message.seq)
    elif GROUP_ATTRIBUTE in message.attributes:
        found[GROUP] = message.attributes[GROUP_ATTRIBUTE]
    if DEDUPLICATION_ATTRIBUTE in message.attributes:
        found[DEDUPLICATION] = message.attributes[DEDUPLICATION_ATTRIBUTE]
    return found
