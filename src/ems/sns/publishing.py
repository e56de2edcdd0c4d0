"""Publish and PublishBatch, and the signed documents SNS delivers.

A publish is an EMS publish (one durable transaction: every matching queue gets its copy, every
matching webhook a push in the outbox) of a message that carries its :class:`SnsMessage`: the
topic ARN, subject, timestamp, and each ``Message`` text with its signature, signed here, once.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import uuid
from typing import Any, Final

from ems.core.sns_models import SnsMessage, SnsTopic, SnsVariant
from ems.core.sns_topics import SnsTopicService
from ems.core.topic_models import TopicMessage
from ems.sns import fifo
from ems.sns.names import Topics, topic_arn
from ems.sns.signing import Signer
from ems.sns.wire import error, invalid
from ems.sqs import messages
from ems.sqs.checksums import AttributeValue
from ems.sqs.errors import SqsError
from ems.sqs.names import Caller

MAX_MESSAGE_BYTES: Final = 262_144
MAX_SUBJECT: Final = 99
MAX_BATCH: Final = 10
PROTOCOL_KEYS: Final = ("sqs", "http", "https", "email", "email-json")
_BATCH_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
_SUBJECT: Final = re.compile(r"[\x20-\x7e]+")
CERT_PATH: Final = "/ems/sns/"


def timestamp() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Stamp:
    """Signs what EMS delivers for SNS, and says where the certificate is."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def cert_url(self, base: str) -> str:
        return f"{base}{CERT_PATH}{self.signer.certificate_file}"

    def confirmation(
        self, base: str, arn: str, token: str, subscribe_url: str, entry: SnsTopic
    ) -> dict[str, str]:
        version = entry.attributes.get("SignatureVersion", "1")
        fields = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": arn,
            "Message": (
                f"You have chosen to subscribe to the topic {arn}.\nTo confirm the "
                "subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": subscribe_url,
            "Timestamp": timestamp(),
        }
        return {
            **fields,
            "SignatureVersion": version,
            "Signature": self.signer.sign(fields, version),
            "SigningCertURL": self.cert_url(base),
        }

    def message(  # noqa: PLR0917 (each is one field of the signed document)
        self,
        base: str,
        entry: SnsTopic,
        arn: str,
        message_id: str,
        texts: dict[str, str],
        subject: str | None,
        attributes: dict[str, AttributeValue],
    ) -> SnsMessage:
        version = entry.attributes.get("SignatureVersion", "1")
        stamp = timestamp()
        variants = {}
        for protocol, text in texts.items():
            fields = {"Type": "Notification", "MessageId": message_id, "TopicArn": arn,
                      "Message": text, "Timestamp": stamp}  # fmt: skip
            if subject is not None:
                fields["Subject"] = subject
            variants[protocol] = SnsVariant(text, self.signer.sign(fields, version))
        return SnsMessage(
            topic_arn=arn,
            timestamp=stamp,
            signature_version=version,
            signing_cert_url=self.cert_url(base),
            subject=subject,
            variants=variants,
            attributes={name: _envelope_attribute(v) for name, v in attributes.items()},
        )


def _envelope_attribute(value: AttributeValue) -> dict[str, str]:
    document = messages.attribute_document(value)
    return {"Type": value.data_type, "Value": document.get("StringValue", "")
            or document.get("BinaryValue", "")}  # fmt: skip


def check_texts(message: object, structure: object) -> dict[str, str]:
    """The Message text for each protocol ("default" always)."""
    if not isinstance(message, str) or not message:
        raise invalid("Empty message")
    if len(message.encode()) > MAX_MESSAGE_BYTES:
        raise invalid("Message too long")
    if structure is None or structure == "":
        return {"default": message}
    if structure != "json":
        raise invalid("MessageStructure")
    try:
        document = json.loads(message)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("default"), str):
        raise invalid("Message Structure - No default entry in JSON message body")
    texts = {"default": document["default"]}
    for key in PROTOCOL_KEYS:
        value = document.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise invalid("Message Structure - JSON message body failed to parse")
            texts[key] = value
    return texts


def check_subject(subject: object) -> str | None:
    if subject is None:
        return None
    if (
        not isinstance(subject, str)
        or not _SUBJECT.fullmatch(subject)
        or len(subject) > MAX_SUBJECT
    ):
        raise invalid("Subject")
    return subject


def check_attributes(document: object) -> dict[str, AttributeValue]:
    try:
        attributes = messages.check_attributes(document or None)
    except SqsError as failure:
        raise error("ParameterValueInvalid", failure.message) from None
    for name, value in attributes.items():
        if value.data_type.startswith("String.Array"):
            try:
                parsed = json.loads(value.string or "")
            except (ValueError, RecursionError):
                parsed = None
            if not isinstance(parsed, list):
                raise error(
                    "ParameterValueInvalid",
                    f"The message attribute '{name}' with type 'String.Array' must be a JSON "
                    "array.",
                )
    return attributes


class PublishActions:
    def __init__(self, service: SnsTopicService, topics: Topics, stamp: Stamp) -> None:
        self.service = service
        self.topics = topics
        self.stamp = stamp
        self.sequence_numbers = fifo.SequenceNumbers()

    async def publish(self, caller: Caller, params: dict[str, Any]) -> Any:
        if params.get("PhoneNumber"):
            raise invalid("PhoneNumber", "EMS does not send SMS messages")
        arn = params.get("TopicArn") or params.get("TargetArn")
        if arn is None:
            raise invalid("TopicArn or TargetArn", "No endpoint found for the target arn specified")
        entry, topic_id = await self.topics.by_arn(caller, arn)
        return await self._publish(caller, entry, topic_id, params)

    async def _publish(
        self, caller: Caller, entry: SnsTopic, topic_id: str, params: dict[str, Any]
    ) -> dict[str, str]:
        """Publish one message: its MessageId (and, on a FIFO topic, SequenceNumber)."""
        texts = check_texts(params.get("Message"), params.get("MessageStructure"))
        subject = check_subject(params.get("Subject"))
        attributes = check_attributes(params.get("MessageAttributes"))
        ids = fifo.publish_ids(entry.attributes, params) if fifo.is_fifo(entry.attributes) else None
        if ids is None and params.get("MessageDeduplicationId"):
            raise invalid(
                "MessageDeduplicationId",
                "The request includes MessageDeduplicationId parameter that is not valid for "
                "this topic type",
            )
        message_id = str(uuid.uuid4())
        arn = topic_arn(caller, entry.name)
        sns = self.stamp.message(
            caller.base_url, entry, arn, message_id, texts, subject, attributes
        )
        body = texts["default"].encode()
        if ids is None:
            message = TopicMessage(
                message_id, body, attributes=messages.to_ems(attributes), sns=sns
            )
            await self.service.publish(topic_id, message)
            return {"MessageId": message_id}
        group_id, deduplication_id, key = ids
        sequence_number = self.sequence_numbers.next()
        message = TopicMessage(
            message_id,
            body,
            attributes=messages.to_ems(attributes),
            sns=dataclasses.replace(sns, sequence_number=sequence_number),
            group_id=group_id,
            deduplication_id=deduplication_id,
        )
        result = await self.service.publish(topic_id, message, key)
        # a repeat within 5 minutes: SNS answers the first publish's id, and stores nothing
        return {"MessageId": result.duplicate_of or message_id, "SequenceNumber": sequence_number}

    async def publish_batch(self, caller: Caller, params: dict[str, Any]) -> Any:
        entry, topic_id = await self.topics.by_arn(caller, params.get("TopicArn"))
        entries = params.get("PublishBatchRequestEntries")
        if not entries:
            raise error("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise invalid("PublishBatchRequestEntries")
        if len(entries) > MAX_BATCH:
            raise error(
                "TooManyEntriesInBatchRequest",
                "The batch request contains more entries than permissible.",
            )
        ids = [e.get("Id") for e in entries]
        if not all(isinstance(i, str) and _BATCH_ID.fullmatch(i) for i in ids):
            raise error(
                "InvalidBatchEntryId",
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            )
        if len(set(ids)) != len(ids):
            raise error(
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id.",
            )
        total = sum(len(str(e.get("Message", "")).encode()) for e in entries)
        if total > MAX_MESSAGE_BYTES:
            raise error(
                "BatchRequestTooLong",
                "The length of all the messages put together is more than the limit.",
            )
        if fifo.is_fifo(entry.attributes):
            for item in entries:  # as SNS: a FIFO batch is refused whole for these
                fifo.publish_ids(entry.attributes, item)
        successful, failed = [], []
        for item in entries:
            try:
                published = await self._publish(caller, entry, topic_id, item)
            except SqsError as failure:
                failed.append(
                    {"Id": item["Id"], "Code": failure.code, "Message": failure.message,
                     "SenderFault": failure.sender}
                )  # fmt: skip
            else:
                successful.append({"Id": item["Id"], **published})
        return {"Successful": successful, "Failed": failed}
