"""The JSON documents SNS delivers: ``Notification`` and ``SubscriptionConfirmation``.

Keys are in the order SNS writes them. The signature was made when the message was published
(or the subscription made), over exactly the fields SNS signs (:mod:`ems.sns.signing`), so the
same document goes to a queue, to an HTTP endpoint, to every retry and to a dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from ems.core.models import NewMessage
from ems.core.sns_models import SnsMessage, SnsSubscription
from ems.core.topic_models import TopicMessage


def notification(message: TopicMessage, sns: SnsMessage, sub: SnsSubscription) -> str:
    variant = sns.variant(sub.protocol)
    document: dict[str, Any] = {"Type": "Notification", "MessageId": message.message_id}
    if sns.sequence_number is not None:
        document["SequenceNumber"] = sns.sequence_number
    document["TopicArn"] = sns.topic_arn
    if sns.subject is not None:
        document["Subject"] = sns.subject
    document.update({"Message": variant.message, "Timestamp": sns.timestamp})
    if sns.sequence_number is None:  # SNS signs no FIFO notification (they go to SQS only)
        document.update(
            {
                "SignatureVersion": sns.signature_version,
                "Signature": variant.signature,
                "SigningCertURL": sns.signing_cert_url,
            }
        )
    document["UnsubscribeURL"] = sub.unsubscribe_url
    if sns.attributes:
        document["MessageAttributes"] = dict(sns.attributes)
    return json.dumps(document, ensure_ascii=False, indent=2)


def raw_message(message: TopicMessage, sub: SnsSubscription) -> str:
    sns = message.sns
    assert sns is not None
    return sns.variant(sub.protocol).message


def body_for(message: TopicMessage, sub: SnsSubscription) -> bytes:
    """What a subscriber gets as the body: the raw message, or the Notification envelope.

    A message published natively (no SNS fields) goes as it was published."""
    if message.sns is None:
        return message.body
    if sub.raw:
        return raw_message(message, sub).encode()
    return notification(message, message.sns, sub).encode()


def queue_copy(message: TopicMessage, sub: SnsSubscription) -> NewMessage:
    """The message an SNS queue subscription stores: raw delivery keeps the attributes (as SQS
    message attributes); the envelope carries them inside, and the queue message has none."""
    body = body_for(message, sub)
    attributes = message.attributes if sub.raw or message.sns is None else None
    return NewMessage(message.message_id, body, message.correlation_id, attributes)


def confirmation(sub: SnsSubscription) -> bytes:
    assert sub.confirmation is not None
    return json.dumps(dict(sub.confirmation), ensure_ascii=False, indent=2).encode()
