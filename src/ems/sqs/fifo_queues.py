"""FIFO queues in SQS's words: ``FifoQueue``, ``ContentBasedDeduplication``,
``DeduplicationScope`` and ``FifoThroughputLimit`` on the native FIFO settings.

The rules are :mod:`ems.core.fifo`'s; this module only translates names and values, and refuses
in AWS's words what AWS refuses (a FIFO queue's name ends in ``.fifo``, a standard queue's does
not; the FIFO-only attributes need ``FifoQueue=true``; ``perMessageGroupId`` needs the
``messageGroup`` scope; the queue type never changes). SetQueueAttributes changes
``ContentBasedDeduplication``, ``DeduplicationScope`` and ``FifoThroughputLimit``, as on SQS (the
native API sets them at creation only).
"""

from __future__ import annotations

from typing import Any, Final

from ems.core.fifo import DeduplicationScope, FifoSettings, ThroughputLimit
from ems.sqs.errors import SqsError, error, invalid
from ems.sqs.names import FIFO_SUFFIX

FIFO_QUEUE: Final = "FifoQueue"
CONTENT_BASED: Final = "ContentBasedDeduplication"
SCOPE: Final = "DeduplicationScope"
THROUGHPUT: Final = "FifoThroughputLimit"
NAMES: Final = frozenset({FIFO_QUEUE, CONTENT_BASED, SCOPE, THROUGHPUT})
SCOPES: Final = {"messageGroup": DeduplicationScope.GROUP, "queue": DeduplicationScope.QUEUE}
LIMITS: Final = {"perMessageGroupId": ThroughputLimit.GROUP, "perQueue": ThroughputLimit.QUEUE}
_BOOLEANS: Final = {"true": True, "false": False}


def _bad_value(name: str, why: str = "") -> SqsError:
    return error("InvalidAttributeValue", f"Invalid value for the parameter {name}.{why}")


def split(attributes: object) -> tuple[object, dict[str, object]]:
    """The attributes without the FIFO ones, and the FIFO ones as given."""
    if not isinstance(attributes, dict):
        return attributes, {}
    rest = {k: v for k, v in attributes.items() if k not in NAMES}
    return rest, {k: v for k, v in attributes.items() if k in NAMES}


def _flag(given: dict[str, object], name: str) -> bool | None:
    value = given.get(name)
    if value is None:
        return None
    flag = _BOOLEANS.get(value.lower()) if isinstance(value, str) else None
    if flag is None:
        raise _bad_value(name, " Valid values: true, false.")
    return flag


def _choice(given: dict[str, object], name: str, choices: dict[str, Any]) -> Any:
    value = given.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        raise _bad_value(name, f" Valid values: {', '.join(choices)}.")
    return choices[value]


def _refuse_on_standard(given: dict[str, object]) -> None:
    """What AWS answers for a FIFO-only attribute on a standard queue."""
    if CONTENT_BASED in given:
        raise error("InvalidAttributeName", f"Unknown Attribute {CONTENT_BASED}.")
    for name in (SCOPE, THROUGHPUT):
        if name in given:
            raise error(
                "InvalidAttributeName",
                f"You can specify the {name} only when FifoQueue is set to true.",
            )


def _settings(given: dict[str, object], base: FifoSettings) -> FifoSettings:
    content_based = _flag(given, CONTENT_BASED)
    scope = _choice(given, SCOPE, SCOPES)
    limit = _choice(given, THROUGHPUT, LIMITS)
    settings = FifoSettings(
        content_based_deduplication=(
            base.content_based_deduplication if content_based is None else content_based
        ),
        deduplication_scope=base.deduplication_scope if scope is None else scope,
        throughput_limit=base.throughput_limit if limit is None else limit,
    )
    if (
        settings.throughput_limit is ThroughputLimit.GROUP
        and settings.deduplication_scope is DeduplicationScope.QUEUE
    ):
        raise _bad_value(
            THROUGHPUT,
            " Reason: To set FifoThroughputLimit to perMessageGroupId, the DeduplicationScope "
            "must be messageGroup.",
        )
    return settings


def for_create(name: str, given: dict[str, object]) -> FifoSettings | None:
    """A new queue's FIFO settings (None: a standard queue), checked against its name."""
    fifo = bool(_flag(given, FIFO_QUEUE))
    if fifo and not name.endswith(FIFO_SUFFIX):
        raise invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length"
        )
    if not fifo and name.endswith(FIFO_SUFFIX):
        # what SQS answers for a standard queue's name with a dot in it
        raise invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
            "length (QueueName)."
        )
    if not fifo:
        _refuse_on_standard(given)
        return None
    return _settings(given, FifoSettings())


def changed(current: FifoSettings | None, given: dict[str, object]) -> FifoSettings | None:
    """The FIFO settings SetQueueAttributes asks for, if they differ from ``current`` (None:
    nothing to change). The queue type never changes."""
    if FIFO_QUEUE in given:
        if current is None:
            raise error("InvalidAttributeName", f"Unknown Attribute {FIFO_QUEUE}.")
        if _flag(given, FIFO_QUEUE) is not True:
            raise _bad_value(FIFO_QUEUE, " Reason: Modifying queue type is not supported.")
    if current is None:
        _refuse_on_standard(given)
        return None
    wanted = _settings(given, current)
    return None if wanted == current else wanted


def native(settings: FifoSettings | None) -> dict[str, Any]:
    """The native queue attributes for the settings (nothing for a standard queue)."""
    if settings is None:
        return {}
    return {
        "fifo": True,
        "content_based_deduplication": settings.content_based_deduplication,
        "deduplication_scope": settings.deduplication_scope.value,
        "throughput_limit": settings.throughput_limit.value,
    }


def describe(settings: FifoSettings | None) -> dict[str, str]:
    """A FIFO queue's FIFO attributes as GetQueueAttributes shows them (none on standard)."""
    if settings is None:
        return {}
    scope = next(k for k, v in SCOPES.items() if v is settings.deduplication_scope)
    limit = next(k for k, v in LIMITS.items() if v is settings.throughput_limit)
    return {
        FIFO_QUEUE: "true",
        CONTENT_BASED: "true" if settings.content_based_deduplication else "false",
        SCOPE: scope,
        THROUGHPUT: limit,
    }
