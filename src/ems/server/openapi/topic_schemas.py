"""The JSON Schemas of topics, subscriptions and publishing (part of the ``components``)."""

from __future__ import annotations

from ems.core import limits
from ems.core.subscription_rules import MAX_DISPLAY_NAME_CHARS, MAX_FILTER_KEYS, POLICY_BOUNDS
from ems.core.topic_models import Status, SubscriptionProtocol
from ems.server.openapi.schemas import (
    COUNT,
    NULLABLE_STRING,
    NULLABLE_TIMESTAMP,
    QUEUE_REF,
    STRING,
    TIMESTAMP,
    Schema,
    bounded,
    obj,
    ref,
)


def webhook_policy() -> dict[str, Schema]:
    bounds = {name: bounded(bound, name.replace("_", " ")) for name, bound in POLICY_BOUNDS.items()}
    return {
        "envelope": {"type": "boolean", "description": "Push a JSON envelope, not the raw body."},
        **bounds,
    }


def webhook_options() -> dict[str, Schema]:
    return {
        **webhook_policy(),
        "dead_letter_queue_id": {
            "type": ["string", "null"],
            "description": "Where pushes that failed for good go: the queue's send_id (or its "
            "queue_id).",
        },
    }


def subscription() -> Schema:
    deliveries = {
        "type": "object",
        "properties": {
            "delivered": COUNT,
            "failed": COUNT,
            "pending": COUNT,
            "attempts": COUNT,
            "last_attempt_at": NULLABLE_TIMESTAMP,
            "last_status": {"type": ["integer", "null"]},
            "last_error": NULLABLE_STRING,
            "last_success_at": NULLABLE_TIMESTAMP,
        },
        "required": ["failed", "last_attempt_at", "last_error"],
    }
    properties: dict[str, Schema] = {
        "subscription_id": STRING,
        "protocol": {"type": "string", "enum": [p.value for p in SubscriptionProtocol]},
        "endpoint": {
            "type": ["string", "null"],
            "description": "The webhook URL, mailto: and the email address, or the queue's "
            "queue_ref (never one of its ids).",
        },
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "filter_policy": {
            "type": ["object", "null"],
            "description": "The filter policy as given (attribute names in lower case).",
        },
        "filter_policy_scope": {"type": "string", "enum": ["MessageAttributes", "MessageBody"]},
        "created_at": TIMESTAMP,
        "deliveries": deliveries,
        "signing_secret": {"type": "string", "description": "Webhooks: the whsec_ secret."},
        "display_name": {**NULLABLE_STRING, "description": "Email: the mails' sender name."},
        **webhook_policy(),
        "dead_letter_queue": {
            "oneOf": [QUEUE_REF, {"type": "null"}],
            "description": "Webhooks: the queue_ref of the dead-letter queue.",
        },
    }
    return obj(
        properties,
        required=["subscription_id", "protocol", "endpoint", "status", "filter_policy"],
    )


def topic_components() -> dict[str, Schema]:
    topic = {
        "topic_id": STRING,
        "public_id": {
            "type": "string",
            "description": "Names the topic to webhooks and mails; grants nothing.",
        },
        "max_message_bytes": bounded(limits.MAX_MESSAGE_BYTES, "Largest message published."),
        "fifo": {
            "type": "boolean",
            "description": "A FIFO topic (set at creation only): group ids, deduplication, "
            "FIFO queue subscriptions only.",
        },
        "content_based_deduplication": {
            "type": "boolean",
            "description": "FIFO topics: a publish without a deduplication id is deduplicated "
            "by its body's SHA-256.",
        },
        "created_at": TIMESTAMP,
    }
    required = [name for name in topic if name != "content_based_deduplication"]
    return {
        "TopicSettings": {
            "type": "object",
            "properties": {
                name: topic[name]
                for name in ("max_message_bytes", "fifo", "content_based_deduplication")
            },
            "additionalProperties": False,
        },
        "Topic": obj(topic, required=required),
        "TopicWithStats": obj(
            {
                **topic,
                "subscriptions": obj(
                    {
                        "queue": COUNT,
                        "http_confirmed": COUNT,
                        "http_pending_confirmation": COUNT,
                        "email_confirmed": COUNT,
                        "email_pending_confirmation": COUNT,
                    }
                ),
                "pending_deliveries": COUNT,
            },
            required=[*required, "subscriptions", "pending_deliveries"],
        ),
        "SubscriptionOptions": {
            "type": "object",
            "description": "Queues take only filter_policy; webhooks take all of these but "
            "display_name; email subscriptions take filter_policy, max_attempts, "
            "min_retry_seconds, max_retry_seconds, dead_letter_queue_id and display_name.",
            "properties": {
                "display_name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_DISPLAY_NAME_CHARS,
                    "description": "Email: the sender name of the mails, and their subject when "
                    "a message has no Subject attribute (default: EMS topic <public_id>).",
                },
                "filter_policy": {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": MAX_FILTER_KEYS,
                    "description": (
                        "Deliver only the messages this policy matches: Amazon SNS's filter "
                        'policy grammar, whose simplest form is {"attribute": ["v1", "v2"]} '
                        "(docs/topics.md)."
                    ),
                },
                "filter_policy_scope": {
                    "type": "string",
                    "enum": ["MessageAttributes", "MessageBody"],
                    "default": "MessageAttributes",
                    "description": "What filter_policy looks at: the attributes or the JSON body.",
                },
                **webhook_options(),
            },
            "additionalProperties": False,
        },
        "Subscription": subscription(),
        "Subscriptions": obj({"subscriptions": {"type": "array", "items": ref("Subscription")}}),
        "Published": obj(
            {
                "message_id": STRING,
                "queues": {**COUNT, "description": "Subscribed queues that stored the message."},
                "webhooks": {**COUNT, "description": "Webhook pushes recorded, to be made."},
                "emails": {**COUNT, "description": "Mails recorded, to be sent."},
                "skipped": {
                    **COUNT,
                    "description": "Subscribed queues that could not take the message (larger "
                    "than the queue accepts, or the queue full): recorded on their "
                    "subscriptions; the others got it.",
                },
            }
        ),
        "Unsubscribed": obj({"status": {"type": "string", "enum": ["unsubscribed"]}}),
        "UnsubscribeHint": obj({"unsubscribe": STRING}),
        "Confirmed": obj(
            {"subscription_id": STRING, "status": {"type": "string", "enum": ["confirmed"]}}
        ),
    }
