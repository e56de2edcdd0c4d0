"""Idempotency keys on the native send API: reading them, and answering repeats.

A send with ``Idempotency-Key`` that repeats one within the window is answered ``200`` with
``EMS-Duplicate: true`` and the original ``message_id``; nothing is stored (see
:mod:`ems.core.idempotency`). In a batch each entry may carry its own ``idempotency_key``; an
``Idempotency-Key`` header on a batch stands for the whole request: entry ``i`` is keyed
``<header>#<i>``, so a retried batch is recognised entry by entry.
"""

from __future__ import annotations

from typing import Any, Final

from ems.asgi import JSON, Scope, Send, respond, respond_json
from ems.core import idempotency
from ems.core.errors import InvalidRequest

HEADER: Final = b"idempotency-key"
DUPLICATE: Final = [(b"ems-duplicate", b"true")]


def header_key(scope: Scope) -> str | None:
    """The request's ``Idempotency-Key``, checked; None without one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return idempotency.check_key(value.decode("latin-1"))
    return None


def batch_key_texts(entries: list[Any], header: str | None) -> list[str | None]:
    """Each entry's idempotency key as given (None: no key)."""
    if header is not None:
        if any(isinstance(e, dict) and "idempotency_key" in e for e in entries):
            raise InvalidRequest(
                "Give either an Idempotency-Key header for the whole batch or an "
                "idempotency_key per entry, not both.",
                parameter="idempotency_key",
            )
        return [f"{header}#{i}" for i in range(len(entries))]
    texts: list[str | None] = []
    for index, entry in enumerate(entries):
        text = entry.get("idempotency_key") if isinstance(entry, dict) else None
        where = f"messages[{index}].idempotency_key"
        texts.append(None if text is None else idempotency.check_key(text, where=where))
    return texts


def batch_keys(texts: list[str | None]) -> list[bytes | None] | None:
    """Each entry's key hash, or None when no entry has a key."""
    if all(text is None for text in texts):
        return None
    return [None if text is None else idempotency.key_hash(text) for text in texts]


async def answer_send(send: Send, message_id: str, original: str | None) -> int:
    """The answer to a single send: 201, or 200 with ``EMS-Duplicate`` for a repeat."""
    if original is None:
        return await respond(send, 201, b'{"message_id":"' + message_id.encode() + b'"}\n', JSON)
    return await respond(
        send, 200, b'{"message_id":"' + original.encode() + b'"}\n', JSON + DUPLICATE
    )


async def answer_publish_repeat(send: Send, original: str) -> int:
    """A publish that repeated an earlier one's key: nothing was delivered by this request."""
    document = {"message_id": original, "queues": 0, "webhooks": 0, "skipped": 0, "emails": 0}
    return await respond_json(send, 200, document, DUPLICATE)


async def answer_batch(send: Send, message_ids: list[str], originals: list[str | None]) -> int:
    """201 if any entry was stored (200 with ``EMS-Duplicate`` if none was); ``message_ids``
    holds each repeat's original id, ``duplicates`` says which entries were repeats."""
    ids = [original or own for own, original in zip(message_ids, originals, strict=True)]
    duplicates = [original is not None for original in originals]
    document = {"message_ids": ids, "duplicates": duplicates}
    if all(duplicates):
        return await respond_json(send, 200, document, DUPLICATE)
    return await respond_json(send, 201, document)
