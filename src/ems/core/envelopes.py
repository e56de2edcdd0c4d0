"""JSON envelopes around published messages: for webhook subscriptions that ask for one, and
for pushes that failed for good and go to a dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from ems.core import sns_envelopes
from ems.core.encoding import encode_body, rfc3339
from ems.core.topic_models import AttemptResult, DeliveryTask


def _message_fields(task: DeliveryTask) -> dict[str, Any]:
    assert task.message is not None
    body, encoding = encode_body(task.message.body)
    return {
        "message_id": task.message.message_id,
        "published_at": rfc3339(task.published_at_ms),
        "correlation_id": task.message.correlation_id,
        "attributes": dict(task.message.attributes or {}),
        "content_type": task.message.content_type,
        "body": body,
        "body_encoding": encoding,
    }


def notification(task: DeliveryTask) -> bytes:
    document = {
        "type": "Notification",
        "topic_id": task.topic_public_id,
        "subscription_id": task.subscription_id,
        **_message_fields(task),
    }
    return json.dumps(document, ensure_ascii=False).encode()


def delivery_failure(task: DeliveryTask, result: AttemptResult) -> bytes:
    """What goes to a dead-letter queue. An SNS subscription's RedrivePolicy queue gets what
    the endpoint would have: the Notification envelope, or the raw message."""
    if task.sns is not None and task.message is not None:
        return sns_envelopes.body_for(task.message, task.sns)
    document = {
        "type": "DeliveryFailure",
        "topic_id": task.topic_public_id,
        "subscription_id": task.subscription_id,
        "endpoint": task.url,
        "attempts": task.attempt,
        "last_status": result.status,
        "last_error": result.error,
        "message": _message_fields(task),
    }
    return json.dumps(document, ensure_ascii=False).encode()
