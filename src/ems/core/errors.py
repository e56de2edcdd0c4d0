"""Every error EMS reports to a client, as domain exceptions.

Each class carries a stable ``slug`` (the last part of its RFC 9457 problem ``type``), a
``title``, and a ``default_detail``; the HTTP layer maps classes to status codes. ``detail``
always says how to fix the request, never how the server failed inside, and quotes what the
client sent only through :func:`quoted` (never an id or a receipt handle).
"""

from __future__ import annotations

import re
from typing import Final

# a run that could be a capability id or a receipt handle: 16 or more URL-safe characters with a
# digit or a capital letter in it (every name EMS defines is lowercase words)
_SECRET_LIKE: Final = re.compile(r"[A-Za-z0-9_-]{16,}")


def redacted(value: object, limit: int = 40) -> str:
    """Client input as a problem detail may show it: anything that could be an id or a receipt
    handle elided, and cut to about ``limit`` characters.

    Details are read by people, pasted into tickets and shown by tools; they must not carry
    capabilities, even ones the client sent itself.
    """
    text = value if isinstance(value, str) else repr(value)
    text = _SECRET_LIKE.sub(_mask, text)
    return text if len(text) <= limit else text[:limit] + "..."


def quoted(value: object, limit: int = 40) -> str:
    """:func:`redacted`, in quotes."""
    return repr(redacted(value, limit))


def _mask(match: re.Match[str]) -> str:
    run = match.group()
    return "<redacted>" if any(c.isdigit() or c.isupper() for c in run) else run


class EmsError(Exception):
    """Base of every error a client can be told about."""

    slug = "error"
    title = "Request failed"
    default_detail = "The request failed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class InvalidRequest(EmsError):
    """The request is malformed: a bad parameter, header or body."""

    slug = "invalid-request"
    title = "Invalid request"

    def __init__(self, detail: str | None = None, *, parameter: str | None = None) -> None:
        super().__init__(detail)
        self.parameter = parameter


class InvalidAttribute(InvalidRequest):
    """A queue attribute is out of range, unknown or of the wrong type."""

    slug = "invalid-attribute"
    title = "Invalid queue attribute"


class InvalidMessageAttribute(InvalidRequest):
    """Too many message attributes, or a bad attribute name or value."""

    slug = "invalid-message-attribute"
    title = "Invalid message attribute"


class TooManyEntries(InvalidRequest):
    """A batch has more entries than one request may carry."""

    slug = "too-many-entries"
    title = "Too many entries in one batch"


class MissingGroupId(InvalidRequest):
    """A send to a FIFO queue, or a publish to a FIFO topic, without a message group."""

    slug = "missing-group-id"
    title = "Message group id required"


class DeadLetterQueueNotFound(InvalidRequest):
    """The dead-letter queue named by a queue's attributes does not exist."""

    slug = "dead-letter-queue-not-found"
    title = "Dead-letter queue not found"


class QueueNotFound(EmsError):
    """No queue has this id."""

    slug = "queue-not-found"
    title = "Queue not found"
    default_detail = "No queue has this id; it was deleted or never existed."

    def __init__(self, detail: str | None = None, *, parameter: str | None = None) -> None:
        super().__init__(detail)
        self.parameter = parameter  # when the id came from a parameter rather than the path


class MessageTooLarge(EmsError):
    """A message is larger than its queue's max_message_bytes."""

    slug = "message-too-large"
    title = "Message too large"


class RequestTooLarge(EmsError):
    """A request body is larger than the endpoint accepts."""

    slug = "request-too-large"
    title = "Request body too large"


class InvalidReceiptHandle(EmsError):
    """A receipt handle this queue did not issue: forged, altered, or another queue's."""

    slug = "invalid-receipt-handle"
    title = "Invalid receipt handle"
    default_detail = (
        "This receipt handle was not issued by this queue; use the receipt_handle of a message "
        "received from it."
    )


class StaleReceiptHandle(EmsError):
    """The message was received again since this handle was issued: its holder lost the lease."""

    slug = "stale-receipt-handle"
    title = "Receipt handle is stale"
    default_detail = (
        "The message was received again after this receipt handle was issued, so this consumer "
        "no longer holds it; only the latest receipt handle is accepted."
    )


class MessageNotFound(EmsError):
    """The message is gone: deleted, expired or dead-lettered."""

    slug = "message-not-found"
    title = "Message not found"
    default_detail = "The message was deleted, expired or moved to the dead-letter queue."


class StorageUnavailable(EmsError):
    """The store cannot serve the request right now; retrying later can succeed."""

    slug = "storage-unavailable"
    title = "Storage unavailable"
    default_detail = "The message store cannot be reached right now; retry shortly."


class StorageFull(StorageUnavailable):
    """The disk that holds the data is full: nothing new is stored until space is freed.

    Receiving and deleting go on where the database allows, so consumers can drain the queues
    (which frees space); sends, publishes and creations are refused until then.
    """

    slug = "storage-full"
    title = "Storage full"
    default_detail = (
        "The server's disk is full, so it cannot store new messages until space is freed; "
        "nothing was stored. Receiving and deleting still work. Retry later."
    )


class ShuttingDown(StorageUnavailable):
    """The server is stopping and accepts no new work."""

    slug = "shutting-down"
    title = "Server shutting down"
    default_detail = "The server is shutting down; retry on another node or shortly."


class TopicNotFound(EmsError):
    """No topic has this id."""

    slug = "topic-not-found"
    title = "Topic not found"
    default_detail = "No topic has this id; it was deleted or never existed."


class SubscriptionNotFound(EmsError):
    """The topic has no subscription with this id."""

    slug = "subscription-not-found"
    title = "Subscription not found"
    default_detail = "This topic has no subscription with this id; it was deleted or never existed."


class ConfirmationNotFound(EmsError):
    """The confirmation link is not valid (any more)."""

    slug = "confirmation-not-found"
    title = "Confirmation not found"
    default_detail = (
        "This confirmation link matches no subscription waiting for confirmation; the "
        "subscription was deleted, or the link was mistyped."
    )


class InvalidWebhookUrl(InvalidRequest):
    """The webhook URL is not an absolute http(s) URL EMS can call."""

    slug = "invalid-webhook-url"
    title = "Invalid webhook URL"


class ForbiddenWebhookUrl(InvalidRequest):
    """The webhook URL leads to an address EMS refuses to call (loopback, private, ...)."""

    slug = "forbidden-webhook-url"
    title = "Webhook URL not allowed"
    # what clients are told: never which address the host resolved to, or EMS would answer
    # DNS queries about the network it runs in
    default_detail = (
        "The webhook URL's host is not a public address, or resolves to one that is not: EMS "
        "does not call loopback, private, link-local, CGNAT, multicast or unspecified addresses. "
        "(An operator can allow them with --webhook-allow-private or --webhook-allow-net.)"
    )


class InvalidEmailAddress(InvalidRequest):
    """The email address is not one EMS can send to (or would put in a mail header as is)."""

    slug = "invalid-email-address"
    title = "Invalid email address"


class EmailNotConfigured(InvalidRequest):
    """This server sends no email: its operator has not configured an SMTP server."""

    slug = "email-not-configured"
    title = "Email is not configured"
    default_detail = (
        "This server sends no email: email subscriptions need the operator to set EMS_SMTP_URL "
        "(smtp:// with STARTTLS or smtps://), EMS_SMTP_FROM and EMS_PUBLIC_URL (for the "
        "confirmation and unsubscribe links). Subscribe a webhook or a queue instead."
    )


class UnsubscribeLinkNotFound(EmsError):
    """The unsubscribe link is not valid (any more)."""

    slug = "unsubscribe-link-not-found"
    title = "Unsubscribe link not found"
    default_detail = (
        "This unsubscribe link matches no subscription: it was already unsubscribed or deleted, "
        "or the link was mistyped."
    )


class QueueFull(EmsError):
    """The queue holds as many messages, or bytes, as it may; consumers must drain it first."""

    slug = "queue-full"
    title = "Queue full"


class WrongCapability(EmsError):
    """This id is one of the queue's scoped ids, which does not allow this operation."""

    slug = "wrong-capability"
    title = "Not allowed with this id"


class Unauthorized(EmsError):
    """An API key (or the admin token) is required, and was missing or wrong."""

    slug = "unauthorized"
    title = "Authentication required"
    default_detail = "This server requires an API key: send it as 'Authorization: Bearer <key>'."


class QuotaExceeded(EmsError):
    """The API key has created as many queues or topics as its quota allows."""

    slug = "quota-exceeded"
    title = "Quota exceeded"


class ClientNotAllowed(EmsError):
    """The client's address is not in the server's allowlist."""

    slug = "client-not-allowed"
    title = "Client not allowed"
    default_detail = "This server does not accept requests from your network address."


class RateLimited(EmsError):
    """The client sent more requests than its rate limit allows; retry after Retry-After."""

    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"Too many requests from this client; retry in {max(1, round(retry_after))} s."
        )
        self.retry_after = retry_after


class TooManyStreams(EmsError):
    """This client, or this queue or topic, has as many live streams open as the server allows."""

    slug = "too-many-streams"
    title = "Too many streams"


class NotADeadLetterQueue(InvalidRequest):
    """A redrive (message move task) was asked of a queue no queue dead-letters into."""

    slug = "not-a-dead-letter-queue"
    title = "Not a dead-letter queue"
    # SQS's words
    default_detail = "Source queue must be configured as a Dead Letter Queue."


class MoveTaskRunning(EmsError):
    """The dead-letter queue already has a redrive running: one at a time per queue."""

    slug = "move-task-running"
    title = "A redrive is already running"
    # SQS's words
    default_detail = (
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time."
    )


class MoveTaskNotFound(EmsError):
    """No redrive (message move task) by this handle, or none running to cancel."""

    slug = "move-task-not-found"
    title = "Redrive not found"
    default_detail = "This queue has no redrive running; start one with POST .../redrive."
