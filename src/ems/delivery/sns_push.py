"""Pushes to SNS HTTP(S) subscriptions (:mod:`ems.sns`): SNS's documents and headers.

The body is the ``Notification`` or ``SubscriptionConfirmation`` JSON, signed when published
(or subscribed), or the raw message; the headers are SNS's ``x-amz-sns-*``. An SNS endpoint has
delivered a message when it answers at all below 500 (SNS counts 4xx answers as delivered, not
to be retried); 429, 5xx, timeouts and connection failures are retried.
"""

from __future__ import annotations

from ems.core import sns_envelopes
from ems.core.topic_models import DeliveryKind, DeliveryTask

CONTENT_TYPE = "text/plain; charset=UTF-8"


def request(task: DeliveryTask) -> tuple[bytes, dict[str, str]]:
    sns = task.sns
    assert sns is not None
    headers = {"Content-Type": CONTENT_TYPE, "x-amz-sns-topic-arn": sns.topic_arn}
    if task.kind is DeliveryKind.CONFIRMATION:
        assert sns.confirmation is not None
        headers["x-amz-sns-message-type"] = "SubscriptionConfirmation"
        headers["x-amz-sns-message-id"] = sns.confirmation["MessageId"]
        return sns_envelopes.confirmation(sns), headers
    message = task.message
    assert message is not None
    headers["x-amz-sns-message-type"] = "Notification"
    headers["x-amz-sns-message-id"] = message.message_id
    headers["x-amz-sns-subscription-arn"] = sns.subscription_arn
    if sns.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    return sns_envelopes.body_for(message, sns), headers


def delivered(status: int) -> bool:
    return status < 500 and status != 429
