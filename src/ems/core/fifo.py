"""FIFO queue rules, pure: which deduplication key a FIFO send has, and what a receive may take.

Not wired to the stores or the API yet (issue 19 continues): these are the rules both drivers are
to run, written once here so that SQLite and PostgreSQL cannot disagree.

Order. A FIFO queue delivers each message group in send order, one receive's worth at a time:
while any message of a group is in flight, the later ones are withheld (LocalStack #6762/#12457
returned them). A message's ``sequence_number`` is its store-wide ``seq``, which only grows, so it
increases within every group as SQS requires.

Deduplication reuses the idempotency keys (:mod:`ems.core.idempotency`): a FIFO send's key is its
deduplication id (or, with content-based deduplication, the SHA-256 of its body), qualified by its
group when the queue's ``deduplication_scope`` is ``group`` (so the same id in two groups stores
both: LocalStack #10460).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeGuard

from ems.core.errors import (
    InvalidAttribute,
    InvalidRequest,
    MissingGroupId,
    quoted,
)

# SQS: MessageGroupId and MessageDeduplicationId are up to 128 characters of letters, digits and
# punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)
MAX_ID_CHARS: Final = 128
_ID: Final = re.compile(r"[!-~]{1,128}")
# messages a FIFO receive considers at once, oldest first: what it plans among (a queue whose
# oldest 1,000 receivable messages are all held back still delivers from the groups after them
# once those move on)
SCAN_LIMIT: Final = 1000


class DeduplicationScope(enum.StrEnum):
    QUEUE = "queue"
    GROUP = "group"


class ThroughputLimit(enum.StrEnum):
    """Accepted and reported as SQS's FifoThroughputLimit; EMS has no per-queue rate limit to
    raise, so both values deliver the same."""

    QUEUE = "queue"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class FifoSettings:
    content_based_deduplication: bool = False
    deduplication_scope: DeduplicationScope = DeduplicationScope.QUEUE
    throughput_limit: ThroughputLimit = ThroughputLimit.QUEUE


def valid_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a group or deduplication id SQS and SNS would take (the one rule;
    each protocol words its own refusal)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(value: object, name: str) -> str:
    """A group or deduplication id as given, if SQS would take it."""
    if not valid_id(value):
        raise InvalidRequest(
            f"{name} must be 1 to {MAX_ID_CHARS} letters, digits or punctuation; "
            f"got {quoted(value)}.",
            parameter=name,
        )
    return value


def deduplication_id(
    settings: FifoSettings, given: str | None, body: bytes, *, what: str = "queue"
) -> str:
    """The deduplication id of a FIFO send or publish: the one given, else (with content-based
    deduplication) the SHA-256 of the body in hex, as SQS and SNS compute it."""
    if given is not None:
        return given
    if not settings.content_based_deduplication:
        raise InvalidRequest(
            f"A FIFO {what} needs a deduplication id on every send (EMS-Deduplication-Id, "
            "deduplication_id or Idempotency-Key) unless content_based_deduplication is on.",
            parameter="deduplication_id",
        )
    return hashlib.sha256(body).hexdigest()


def deduplication_key(
    settings: FifoSettings, group_id: str, given: str | None, body: bytes
) -> bytes:
    """The idempotency key hash of a FIFO send (see the module doc)."""
    return scoped_key(settings, group_id, deduplication_id(settings, given, body))


def scoped_key(settings: FifoSettings, group_id: str, deduplication_id: str) -> bytes:
    """The key hash of a deduplication id, qualified by its group under group scope."""
    if settings.deduplication_scope is DeduplicationScope.GROUP:
        # a NUL cannot occur in either id: no two (group, id) pairs join to the same text
        deduplication_id = f"{group_id}\0{deduplication_id}"
    return hashlib.sha256(deduplication_id.encode()).digest()


def require_group(group_id: str | None, where: str, *, what: str = "queue") -> str:
    """The group of a FIFO send or publish; refused with a problem type of its own without."""
    if group_id is None:
        raise MissingGroupId(
            f"A FIFO {what} needs a message group on every message ({where}).", parameter=where
        )
    return group_id


class Waiting(NamedTuple):
    """A message of a FIFO queue as a receive sees it: its place, group, and whether it could
    be delivered now on its own (visible, within retention)."""

    seq: int
    group_id: str
    receivable: bool


def plan_receive(waiting: Sequence[Waiting], max_messages: int) -> list[int]:
    """The seqs one receive takes, in delivery order.

    ``waiting`` holds, in seq order, every message of the groups considered that precedes or is
    receivable (a group's messages after its first non-receivable one may be left out). Each
    group yields its leading run of receivable messages, and nothing if its first message is in
    flight or delayed; the group whose run starts earliest is taken first and as far as the
    receive allows, then the next (SQS: "as many of one group as possible, then other groups").
    """
    runs: dict[str, list[int]] = {}
    blocked: set[str] = set()
    for message in waiting:
        group = message.group_id
        if group in blocked:
            continue
        if not message.receivable:
            blocked.add(group)  # everything after it in this group waits for it
            continue
        runs.setdefault(group, []).append(message.seq)
    taken: list[int] = []
    for run in sorted(runs.values(), key=lambda seqs: seqs[0]):
        taken.extend(run[: max_messages - len(taken)])
        if len(taken) == max_messages:
            break
    return taken


FIFO_ATTRIBUTES: Final = frozenset(
    {"fifo", "content_based_deduplication", "deduplication_scope", "throughput_limit"}
)


def settings_from(document: object) -> tuple[object, FifoSettings | None]:
    """Split a new queue's attributes into the others and its FIFO settings (None: standard).

    ``fifo`` is set at creation only; the other FIFO attributes need ``"fifo": true``.
    """
    if not isinstance(document, dict) or not FIFO_ATTRIBUTES & document.keys():
        return document, None
    rest = {k: v for k, v in document.items() if k not in FIFO_ATTRIBUTES}
    fifo = document.get("fifo", False)
    if not isinstance(fifo, bool):
        raise InvalidAttribute("fifo must be true or false.", parameter="fifo")
    if not fifo:
        extra = sorted(FIFO_ATTRIBUTES & document.keys() - {"fifo"})
        if extra:
            raise InvalidAttribute(
                f'{extra[0]} is for FIFO queues only: create the queue with "fifo": true.',
                parameter=extra[0],
            )
        return rest, None
    content_based = document.get("content_based_deduplication", False)
    if not isinstance(content_based, bool):
        raise InvalidAttribute(
            "content_based_deduplication must be true or false.",
            parameter="content_based_deduplication",
        )
    return rest, FifoSettings(
        content_based_deduplication=content_based,
        deduplication_scope=_choice(document, "deduplication_scope", DeduplicationScope),
        throughput_limit=_choice(document, "throughput_limit", ThroughputLimit),
    )


def refuse_changes(document: object) -> None:
    """FIFO attributes are set when the queue is created, not by a PATCH."""
    if isinstance(document, dict):
        named = sorted(FIFO_ATTRIBUTES & document.keys())
        if named:
            raise InvalidAttribute(
                f"{named[0]} is set when the queue is created and cannot be changed.",
                parameter=named[0],
            )


def _choice(document: dict[str, object], name: str, kind: type[enum.StrEnum]) -> Any:
    value = document.get(name, "queue")
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        allowed = " or ".join(f'"{member.value}"' for member in kind)
        raise InvalidAttribute(
            f"{name} must be {allowed}; got {quoted(value)}.", parameter=name
        ) from None


def check_dead_letter_kind(target: FifoSettings | None, *, fifo: FifoSettings | None) -> None:
    """A FIFO queue's dead-letter queue (whose FIFO settings are ``target``) is FIFO (its groups
    stay in order there), and a standard queue's is standard, as SQS requires."""
    if (target is None) != (fifo is None):
        kind = "standard" if fifo is None else "FIFO"
        raise InvalidAttribute(
            f"A {kind} queue's dead-letter queue must be a {kind} queue too.",
            parameter="dead_letter",
        )


def check_receive(settings: FifoSettings | None, correlation_id: str | None) -> None:
    """Receiving by correlation id would take a group's messages out of order: not on FIFO."""
    if settings is not None and correlation_id is not None:
        raise InvalidRequest(
            "A FIFO queue delivers each group in order: it cannot be received from by "
            "correlation_id.",
            parameter="correlation_id",
        )


def check_redrive_destination(source: FifoSettings | None, target: FifoSettings | None) -> None:
    """A redrive moves messages between queues of one type: a FIFO message keeps its group,
    which only a FIFO queue orders by (SQS: "if the dead-letter queue is a FIFO queue, the
    redrive destination queue must be a FIFO queue as well")."""
    if (source is None) != (target is None):
        raise InvalidRequest(
            "The destination queue must be of the same type as the dead-letter queue "
            "(FIFO to FIFO, standard to standard).",
            parameter="destination_queue_id",
        )


def check_redrive(settings: FifoSettings | None) -> None:
    """A redrive moves messages back as new sends, after whatever their groups received since:
    it would reorder them, so EMS refuses it on a FIFO dead-letter queue (receive them from it
    instead, in order)."""
    if settings is not None:
        raise InvalidRequest(
            "A FIFO dead-letter queue cannot be redriven: its messages would go back behind "
            "later messages of their groups. Receive them from the dead-letter queue instead.",
            parameter="queue_id",
        )
