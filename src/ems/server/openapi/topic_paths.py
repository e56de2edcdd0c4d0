"""The operations on topics and subscriptions."""

from __future__ import annotations

from ems.server.openapi.exactly_once import DEDUPLICATION_HEADER, GROUP_HEADER
from ems.server.openapi.operation import (
    API_KEY,
    BINARY,
    CORRELATION,
    DUPLICATE_HEADER,
    IDEMPOTENCY_KEY,
    LOCATION,
    NO_CONTENT,
    TOPIC_ID,
    Operation,
    body_of,
    json_body,
    json_response,
    op,
    param,
)
from ems.server.openapi.schemas import STRING

CONFIRM_TOKEN = param("token", "path", STRING, "From the confirm_url or the confirmation mail.")
UNSUBSCRIBE_TOKEN = param("token", "path", STRING, "From the mail's List-Unsubscribe link.")


def topic_paths() -> dict[str, dict[str, Operation]]:
    t = "/ems/topic/{topic_id}"
    subscription_id = param("subscription_id", "path", STRING, "The subscription.")
    return {
        "/ems/topic": {
            "post": op(
                "createTopic",
                "Topics",
                "Create a topic",
                {201: json_response("Topic", "The topic.", headers=LOCATION)},
                errors=(401, 413),
                body=json_body("TopicSettings", required=False),
                security=API_KEY,
            )
        },
        t: {
            "get": op(
                "getTopic",
                "Topics",
                "Attributes, subscription counts, pushes not yet made",
                {200: json_response("TopicWithStats", "The topic.")},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
            "delete": op(
                "deleteTopic",
                "Topics",
                "Delete the topic and its subscriptions",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
        },
        f"{t}/subscription": {
            "post": op(
                "subscribe",
                "Topics",
                "Subscribe a queue (?queue_id=), a webhook (?url=) or an email address (?email=)",
                {
                    200: json_response(
                        "Subscription", "Already subscribed: the existing subscription."
                    ),
                    201: json_response("Subscription", "Subscribed."),
                },
                errors=(404, 413),
                parameters=(
                    TOPIC_ID,
                    param("queue_id", "query", STRING, "A queue to deliver to."),
                    param("url", "query", STRING, "An http(s) URL to push to (confirmed first)."),
                    param(
                        "email",
                        "query",
                        STRING,
                        "An email address to mail each message to (double opt-in: it gets a "
                        "confirmation mail first). Needs the server's SMTP settings.",
                    ),
                ),
                body=json_body("SubscriptionOptions", required=False),
                description="Give exactly one of queue_id, url and email. Without SMTP "
                "settings, an email subscription is a 400 email-not-configured.",
            ),
            "get": op(
                "listSubscriptions",
                "Topics",
                "List subscriptions",
                {200: json_response("Subscriptions", "Every subscription.")},
                errors=(404,),
                parameters=(TOPIC_ID,),
            ),
        },
        f"{t}/subscription/{{subscription_id}}": {
            "get": op(
                "getSubscription",
                "Topics",
                "A subscription, with delivery counts",
                {200: json_response("Subscription", "The subscription.")},
                errors=(404,),
                parameters=(TOPIC_ID, subscription_id),
            ),
            "delete": op(
                "unsubscribe",
                "Topics",
                "Unsubscribe",
                {204: NO_CONTENT},
                errors=(404,),
                parameters=(TOPIC_ID, subscription_id),
            ),
        },
        f"{t}/message": {
            "post": op(
                "publish",
                "Topics",
                "Publish to every subscriber",
                {
                    201: json_response("Published", "Stored in every matching queue and outbox."),
                    200: json_response(
                        "Published",
                        "A repeat of an Idempotency-Key (or, on a FIFO topic, of a "
                        "deduplication id): the original message_id; nothing delivered "
                        "(counts 0).",
                        headers=DUPLICATE_HEADER,
                    ),
                },
                errors=(404, 413),
                parameters=(
                    TOPIC_ID,
                    CORRELATION,
                    IDEMPOTENCY_KEY,
                    GROUP_HEADER,
                    DEDUPLICATION_HEADER,
                ),
                body=body_of({"application/octet-stream": BINARY, "text/plain": STRING}),
                description="The body is the message. Attributes as `EMS-Attribute-<Name>` "
                "headers.",
            )
        },
        "/ems/topic/confirm/{token}": {
            "get": op(
                "confirmSubscription",
                "Topics",
                "Confirm a webhook or email subscription (its confirm_url)",
                {200: json_response("Confirmed", "Confirmed.")},
                errors=(404,),
                parameters=(CONFIRM_TOKEN,),
                description="A browser's GET (Accept: text/html) confirms nothing: it gets a "
                "page whose button POSTs (mail scanners open links as browsers). Any other GET "
                "confirms.",
            ),
            "post": op(
                "confirmSubscriptionByPost",
                "Topics",
                "Confirm a webhook or email subscription (the page's button)",
                {200: json_response("Confirmed", "Confirmed; HTML for browsers.")},
                errors=(404,),
                parameters=(CONFIRM_TOKEN,),
                body=body_of({"application/x-www-form-urlencoded": STRING}, required=False),
            ),
        },
        "/ems/topic/unsubscribe/{token}": {
            "get": op(
                "unsubscribeLinkPage",
                "Topics",
                "An email unsubscribe link: shows a button (changes nothing)",
                {200: json_response("UnsubscribeHint", "What to POST; HTML for browsers.")},
                parameters=(UNSUBSCRIBE_TOKEN,),
                description="Opening the link must not unsubscribe: mail scanners open links.",
            ),
            "post": op(
                "unsubscribeByLink",
                "Topics",
                "Unsubscribe an email subscription (RFC 8058 one-click)",
                {200: json_response("Unsubscribed", "Unsubscribed; HTML for browsers.")},
                errors=(404,),
                parameters=(UNSUBSCRIBE_TOKEN,),
                body=body_of({"application/x-www-form-urlencoded": STRING}, required=False),
                description="What a mail client's unsubscribe button sends (body "
                "List-Unsubscribe=One-Click; any body is accepted).",
            ),
        },
    }
