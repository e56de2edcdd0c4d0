"""The message actions: send (one or a batch), receive, delete, change visibility."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, Final

from ems.core import limits
from ems.core.errors import EmsError, StaleReceiptHandle
from ems.core.idempotency import KeyedSend
from ems.core.ids import new_message_id
from ems.core.models import NewMessage, QueueConfig, ReceiveRequest, message_size
from ems.core.queue_access import QueueTarget, Use
from ems.core.queues import QueueService
from ems.core.receive_attempts import ReceiveAttempts
from ems.sqs import fifo_messages, messages
from ems.sqs.checksums import md5_of_attributes, md5_of_body
from ems.sqs.errors import SqsError, error, from_ems, invalid, missing
from ems.sqs.names import Caller, integer, name_from_url, text
from ems.sqs.registry import Registry

MAX_ENTRIES: Final = 10
# SQS's limit on a batch's messages together, whatever the queue's MaximumMessageSize (each
# message is checked against the queue's own limit)
MAX_BATCH_BYTES: Final = 1_048_576
RECEIVE_COUNT: Final = limits.Bound("MaxNumberOfMessages", 1, 10, "messages")
_ENTRY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")


def _entries(params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """A batch's entries, refused in SQS's words; ``kind`` is the entry shape's name
    (``SendMessageBatchRequestEntry``, ...), which SQS's messages name."""
    entries = params.get("Entries")
    if entries is None or entries == []:
        raise error("EmptyBatchRequest", f"There should be at least one {kind} in the request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise invalid("Entries must be a list of objects.")
    if len(entries) > MAX_ENTRIES:
        raise error(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_ENTRIES}. You have sent "
            f"{len(entries)}.",
        )
    ids = [e.get("Id") for e in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
            raise error(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen:
            raise error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def _failed(entry_id: str, failure: SqsError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": failure.sender, "Code": failure.code,
            "Message": failure.message}  # fmt: skip


class MessageActions:
    def __init__(self, service: QueueService, registry: Registry) -> None:
        self.service = service
        self.registry = registry
        self.attempts = ReceiveAttempts(service)

    async def _queue_id(self, caller: Caller, params: dict[str, Any], path: list[str]) -> str:
        name = name_from_url(caller, params.get("QueueUrl"), path)
        # each message call goes to the queue service, which checks the queue exists
        return await self.registry.queue_id_of(caller.namespace, name)

    def forget_queue(self, caller: Caller, params: dict[str, Any], path: list[str]) -> bool:
        """After QueueNotFound: drop the queue id remembered for the call's name; whether one
        was (then the name may stand for a newer queue: look it up again)."""
        try:
            name = name_from_url(caller, params.get("QueueUrl"), path)
        except SqsError:
            return False
        return self.registry.forget(caller.namespace, name)

    def _message(
        self, caller: Caller, params: dict[str, Any], config: QueueConfig
    ) -> tuple[NewMessage, bytes | None, dict[str, Any]]:
        """A message to send, its deduplication key (FIFO queues), and what the answer says of
        it (id and digests)."""
        max_bytes = config.max_message_bytes
        body = messages.check_body(params.get("MessageBody"))
        delay = integer(params, "DelaySeconds", limits.DELAY)
        encoded = body.encode()
        fifo_send = fifo_messages.send_of(config.fifo, params, encoded, delay)
        trace_header = messages.check_trace_header(params.get("MessageSystemAttributes"))
        attributes = messages.check_attributes(params.get("MessageAttributes"))
        if messages.size_of(body, attributes) > max_bytes:
            raise invalid(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{max_bytes} bytes."
            )
        stored = messages.to_ems(attributes) or {}
        stored[messages.SENDER_ATTRIBUTE] = caller.access_key
        stored.update(fifo_send.records)
        if trace_header is not None:
            stored[messages.TRACE_ATTRIBUTE] = trace_header
        # what the queue counts: binary values in base64, and the sqs:types attribute
        stored_size = message_size(encoded, stored)
        if stored_size > max_bytes:
            raise invalid(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{max_bytes} bytes as EMS stores it ({stored_size}: binary attribute values "
                "count in base64, and non-String data types in the sqs:types attribute)."
            )
        message_id = new_message_id()
        result = {"MessageId": message_id, "MD5OfMessageBody": md5_of_body(body)}
        if attributes:
            result["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        if config.fifo is not None:
            delay = None  # a FIFO queue takes only 0, which is its own delay
        message = NewMessage(message_id, encoded, None, stored, delay, fifo_send.group_id)
        return message, fifo_send.key, result

    async def _send(
        self, target: QueueTarget, accepted: list[tuple[NewMessage, bytes | None]]
    ) -> list[str | None]:
        """Store the messages; per message, the id of the message it repeats (None: stored).
        A FIFO queue's sends all go the deduplicating way."""
        if target.record.config.fifo is None:
            await self.service.send(target, [message for message, _ in accepted])
            return [None] * len(accepted)
        keyed = KeyedSend([m for m, _ in accepted], [key for _, key in accepted])
        return await self.service.send_keyed(target, keyed)

    async def _sequence_numbers(
        self,
        target: QueueTarget,
        accepted: list[tuple[NewMessage, bytes | None]],
        originals: list[str | None],
    ) -> list[str | None]:
        """Each FIFO send's SequenceNumber: its message's (the original's, for a repeat; None
        if that is gone already)."""
        if target.record.config.fifo is None:
            return [None] * len(accepted)
        sent = [
            (message.group_id or "", original or message.message_id)
            for (message, _), original in zip(accepted, originals, strict=True)
        ]
        found = await self.service.store.sequence_numbers(target.hash, sent)
        return [None if seq is None else fifo_messages.sequence_number(seq) for seq in found]

    async def send_message(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        target = await self.service.find_queue(queue_id, Use.SEND)
        message, key, result = self._message(caller, params, target.record.config)
        (original,) = await self._send(target, [(message, key)])
        (sequence,) = await self._sequence_numbers(target, [(message, key)], [original])
        return _answer(result, original, sequence)

    async def send_message_batch(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        entries = _entries(params, "SendMessageBatchRequestEntry")
        total = sum(messages.declared_size(e) for e in entries)
        if total > MAX_BATCH_BYTES:
            raise error(
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
                f"{total} bytes.",
            )
        target = await self.service.find_queue(queue_id, Use.SEND)
        accepted: list[tuple[NewMessage, bytes | None]] = []
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                message, key, result = self._message(caller, entry, target.record.config)
            except SqsError as failure:
                failed.append(_failed(entry["Id"], failure))
                continue
            # entries are stored in the batch's order: a FIFO group keeps it (ElasticMQ #267)
            accepted.append((message, key))
            successful.append({"Id": entry["Id"], **result})
        if accepted:
            originals = await self._send(target, accepted)
            sequences = await self._sequence_numbers(target, accepted, originals)
            successful = [
                _answer(result, original, sequence)
                for result, original, sequence in zip(successful, originals, sequences, strict=True)
            ]
        return {"Successful": successful, "Failed": failed}

    async def receive_message(
        self,
        caller: Caller,
        params: dict[str, Any],
        path: list[str],
        disconnected: asyncio.Future[Any] | None = None,
    ) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        count = integer(params, "MaxNumberOfMessages", RECEIVE_COUNT) or 1
        visibility = integer(params, "VisibilityTimeout", limits.VISIBILITY_TIMEOUT)
        wait = integer(params, "WaitTimeSeconds", limits.WAIT)
        system = {*_names(params, "AttributeNames"), *_names(params, "MessageSystemAttributeNames")}
        wanted = _names(params, "MessageAttributeNames")
        attempt = fifo_messages.check_id(params, "ReceiveRequestAttemptId")
        deliveries = await self.attempts.receive(
            queue_id,
            ReceiveRequest(max_messages=count, visibility_timeout=visibility),
            attempt,
            wait_seconds=wait,
            disconnected=disconnected,
        )
        documents = [
            messages.message_document(d.message, d.receipt_handle, wanted, system)
            for d in deliveries
        ]
        return {"Messages": documents} if documents else {}

    async def delete_message(self, caller: Caller, params: dict[str, Any], path: list[str]) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        handle = text(params, "ReceiptHandle")
        if not handle:
            raise missing("ReceiptHandle")
        (outcome,) = await self.service.delete_messages(queue_id, [handle])
        _raise_unless_done(outcome)
        return {}

    async def change_message_visibility(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        handle = text(params, "ReceiptHandle")
        timeout = integer(params, "VisibilityTimeout", limits.VISIBILITY_TIMEOUT)
        if not handle:
            raise missing("ReceiptHandle")
        if timeout is None:
            raise missing("VisibilityTimeout")
        (outcome,) = await self.service.change_visibilities(queue_id, [(handle, timeout)])
        _raise_unless_done(outcome)
        return {}

    async def delete_message_batch(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        entries = _entries(params, "DeleteMessageBatchRequestEntry")
        return await self._batch(
            entries, lambda e: (_handle(e), 0),
            lambda items: self.service.delete_messages(queue_id, [h for h, _ in items]),
        )  # fmt: skip

    async def change_message_visibility_batch(
        self, caller: Caller, params: dict[str, Any], path: list[str]
    ) -> Any:
        queue_id = await self._queue_id(caller, params, path)
        entries = _entries(params, "ChangeMessageVisibilityBatchRequestEntry")

        def parse(entry: dict[str, Any]) -> tuple[str, int]:
            timeout = integer(entry, "VisibilityTimeout", limits.VISIBILITY_TIMEOUT)
            if timeout is None:
                raise missing("VisibilityTimeout")
            return _handle(entry), timeout

        return await self._batch(
            entries, parse, lambda items: self.service.change_visibilities(queue_id, items)
        )

    @staticmethod
    async def _batch(
        entries: list[dict[str, Any]],
        parse: Callable[[dict[str, Any]], tuple[str, int]],
        run: Callable[[list[tuple[str, int]]], Any],
    ) -> Any:
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        items: list[tuple[str, int]] = []
        ids: list[str] = []
        for entry in entries:
            try:
                items.append(parse(entry))
                ids.append(entry["Id"])
            except SqsError as failure:
                failed.append(_failed(entry["Id"], failure))
        outcomes: list[EmsError | None] = await run(items) if items else []
        for entry_id, outcome in zip(ids, outcomes, strict=True):
            if outcome is None or isinstance(outcome, StaleReceiptHandle):
                successful.append({"Id": entry_id})
            else:
                failed.append(_failed(entry_id, from_ems(outcome)))
        return {"Successful": successful, "Failed": failed}


def _answer(result: dict[str, Any], original: str | None, sequence: str | None) -> dict[str, Any]:
    """A send's answer; a repeat of a FIFO send within the window answers the original's id."""
    answer = result if original is None else {**result, "MessageId": original}
    return answer if sequence is None else {**answer, "SequenceNumber": sequence}


def _raise_unless_done(outcome: EmsError | None) -> None:
    """SQS's answer to a delete or visibility change: success, also for a superseded handle.

    SQS documents that a request with an older receipt handle of a message "will succeed, but
    the message might not be deleted": EMS leaves such a message alone (the later receiver
    is working on it) and answers success, as SQS does. The native API refuses the same request
    with 409 stale-receipt-handle, which tells the client its work was taken over.
    """
    if outcome is not None and not isinstance(outcome, StaleReceiptHandle):
        raise outcome


def _handle(entry: dict[str, Any]) -> str:
    handle = text(entry, "ReceiptHandle", required=False)
    if not handle:
        raise missing("ReceiptHandle")
    return handle


def _names(params: dict[str, Any], field: str) -> list[str]:
    names = params.get(field)
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid(f"{field} must be a list of names.")
    return names
