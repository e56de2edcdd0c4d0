"""Sends to FIFO queues on the native API: group ids and deduplication ids.

A FIFO send names its group (``EMS-Group-Id``, or ``group_id`` per batch entry) and is
deduplicated: by ``EMS-Deduplication-Id`` / ``deduplication_id`` (``Idempotency-Key`` is the same
thing), else by its body's SHA-256 when the queue has ``content_based_deduplication``. The rules
are :mod:`ems.core.fifo`'s; this module only reads the request. Every FIFO send goes through the
idempotent path (:mod:`ems.server.idempotent_sends`), so its answers are the same: 201, or 200
with ``EMS-Duplicate: true`` and the original ``message_id``.
"""

from __future__ import annotations

from typing import Any, Final

from ems.asgi import Scope
from ems.core import fifo, idempotency
from ems.core.errors import InvalidRequest
from ems.core.fifo import FifoSettings
from ems.core.models import NewMessage
from ems.server import idempotent_sends

GROUP_HEADER: Final = b"ems-group-id"
DEDUPLICATION_HEADER: Final = b"ems-deduplication-id"
ENTRY_FIELDS: Final = frozenset({"group_id", "deduplication_id"})


def headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's group id and deduplication id headers, checked."""
    group = deduplication = None
    for name, value in scope["headers"]:
        if name == GROUP_HEADER:
            group = fifo.check_id(value.decode("latin-1"), "EMS-Group-Id")
        elif name == DEDUPLICATION_HEADER:
            deduplication = fifo.check_id(value.decode("latin-1"), "EMS-Deduplication-Id")
    return group, deduplication


def keyed_message(
    settings: FifoSettings | None,
    message: NewMessage,
    group: str | None,
    deduplication: str | None,
    idempotency_key: str | None,
    *,
    where: str = "EMS-Group-Id",
) -> tuple[NewMessage, bytes | None]:
    """The message as stored (with its group) and its key hash (None: no key)."""
    if settings is None:
        if group is not None or deduplication is not None:
            raise InvalidRequest(
                "Group and deduplication ids are for FIFO queues; this is a standard queue "
                "(use Idempotency-Key for idempotent sends).",
                parameter=where,
            )
        return message, None if idempotency_key is None else idempotency.key_hash(idempotency_key)
    group = fifo.require_group(group, where)
    if message.delay_seconds is not None:
        raise InvalidRequest(
            "A FIFO queue does not take a delay per message (it would reorder its group); "
            "set the queue's delay_seconds instead.",
            parameter="delay_seconds",
        )
    key = fifo.deduplication_key(settings, group, deduplication or idempotency_key, message.body)
    return message._replace(group_id=group), key


def batch(
    settings: FifoSettings | None,
    entries: list[Any],
    messages: list[NewMessage],
    key_texts: list[str | None],
) -> tuple[list[NewMessage], list[bytes | None] | None]:
    """A batch's messages with their groups, and their key hashes (None: no entry has one)."""
    named = any(isinstance(e, dict) and ENTRY_FIELDS & e.keys() for e in entries)
    if settings is None and not named:
        return messages, idempotent_sends.batch_keys(key_texts)
    stored: list[NewMessage] = []
    hashes: list[bytes | None] = []
    for index, (entry, given) in enumerate(zip(entries, messages, strict=True)):
        fields = entry if isinstance(entry, dict) else {}
        where = f"messages[{index}]"
        group, deduplication = fields.get("group_id"), fields.get("deduplication_id")
        if group is not None:
            group = fifo.check_id(group, f"{where}.group_id")
        if deduplication is not None:
            deduplication = fifo.check_id(deduplication, f"{where}.deduplication_id")
        message, key = keyed_message(
            settings, given, group, deduplication, key_texts[index], where=f"{where}.group_id"
        )
        stored.append(message)
        hashes.append(key)
    return stored, hashes


def attributes_document(settings: FifoSettings | None) -> dict[str, Any]:
    """A queue's FIFO attributes as its JSON shows them."""
    if settings is None:
        return {"fifo": False}
    return {
        "fifo": True,
        "content_based_deduplication": settings.content_based_deduplication,
        "deduplication_scope": settings.deduplication_scope.value,
        "throughput_limit": settings.throughput_limit.value,
    }
