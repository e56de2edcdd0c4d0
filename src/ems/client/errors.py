"""Every exception the EMS client raises, in one tree.

::

    ClientError
    ├── TransportError            the server could not be reached, or the connection broke
    │   └── Timeout               no answer in time
    ├── NoReply                   request(): no reply arrived on the reply queue in time
    ├── DecryptionFailed          a token does not decrypt with the key (also raised locally)
    ├── InvalidKey                not a Fernet key (also raised locally)
    └── APIError                  the server answered with a problem (RFC 9457); .status, .problem
        ├── BadRequest            400: InvalidRequest, InvalidAttribute, InvalidMessageAttribute,
        │                         TooManyEntries, DeadLetterQueueNotFound, InvalidReceiptHandle,
        │                         InvalidWebhookUrl, ForbiddenWebhookUrl
        ├── Unauthorized          401
        ├── Forbidden             403: WrongCapability, QuotaExceeded, ClientNotAllowed
        ├── NotFound              404: QueueNotFound, TopicNotFound, SubscriptionNotFound,
        │                         MessageNotFound
        ├── Conflict              409: StaleReceiptHandle
        ├── PayloadTooLarge       413: MessageTooLarge, RequestTooLarge
        ├── TooManyRequests       429: QueueFull, RateLimited (.retry_after)
        └── ServiceUnavailable    503: StorageUnavailable, ShuttingDown, TooManyConnections
            │                     (retry shortly)
            └── StorageFull       507: the server's disk is full (receive and delete still work)

The server's problem ``type`` picks the class (``/ems/problems/queue-not-found`` is
:class:`QueueNotFound`); a type this client does not know falls back to the class of its status.
``DecryptionFailed`` and ``InvalidKey`` are both what the server's crypto service answers (they are
API errors then too) and what local encryption raises, so code that catches them works either way.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of every error the EMS client raises."""


class TransportError(ClientError):
    """The request did not get an answer: connection refused or reset, DNS, TLS."""


class Timeout(TransportError):
    """The server did not answer in time."""


class NoReply(ClientError):
    """No reply with the request's correlation id arrived in time."""


class APIError(ClientError):
    """The server refused the request; ``problem`` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", "") or self.title)
        super().__init__(f"{status} {self.title}: {self.detail}" if self.title else self.detail)

    @property
    def slug(self) -> str:
        """The last part of the problem type, such as ``queue-not-found``."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class BadRequest(APIError):
    pass


class InvalidRequest(BadRequest):
    pass


class InvalidAttribute(BadRequest):
    pass


class InvalidMessageAttribute(BadRequest):
    pass


class TooManyEntries(BadRequest):
    pass


class DeadLetterQueueNotFound(BadRequest):
    pass


class InvalidReceiptHandle(BadRequest):
    pass


class InvalidWebhookUrl(BadRequest):
    pass


class ForbiddenWebhookUrl(BadRequest):
    pass


class InvalidKey(BadRequest):
    """Not a Fernet key (32 bytes, URL-safe base64)."""

    def __init__(self, status: int = 400, problem: dict[str, Any] | None = None) -> None:
        super().__init__(status, problem or {"title": "Invalid key", "detail": "not a Fernet key"})


class DecryptionFailed(BadRequest):
    """The token is not valid for this key: a wrong key, or a tampered or truncated token."""

    def __init__(self, status: int = 400, problem: dict[str, Any] | None = None) -> None:
        super().__init__(
            status,
            problem or {"title": "Decryption failed", "detail": "the token does not decrypt"},
        )


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class WrongCapability(Forbidden):
    """A scoped id (send_id or receive_id) was used for what it may not do."""


class QuotaExceeded(Forbidden):
    pass


class ClientNotAllowed(Forbidden):
    pass


class NotFound(APIError):
    pass


class QueueNotFound(NotFound):
    pass


class TopicNotFound(NotFound):
    pass


class SubscriptionNotFound(NotFound):
    pass


class MessageNotFound(NotFound):
    pass


class MoveTaskNotFound(NotFound):
    """The queue has had no redrive, or none is running to cancel."""


class Conflict(APIError):
    pass


class StaleReceiptHandle(Conflict):
    """The message was received again since this handle was issued: another consumer has it."""


class MoveTaskRunning(Conflict):
    """The dead-letter queue already has a redrive running: one at a time per queue."""


class NotADeadLetterQueue(BadRequest):
    """A redrive was asked of a queue no queue dead-letters into."""


class PayloadTooLarge(APIError):
    pass


class MessageTooLarge(PayloadTooLarge):
    pass


class RequestTooLarge(PayloadTooLarge):
    pass


class TooManyRequests(APIError):
    def __init__(
        self, status: int, problem: dict[str, Any], retry_after: float | None = None
    ) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class QueueFull(TooManyRequests):
    pass


class RateLimited(TooManyRequests):
    pass


class ServiceUnavailable(APIError):
    pass


class StorageUnavailable(ServiceUnavailable):
    pass


class ShuttingDown(ServiceUnavailable):
    pass


class TooManyConnections(ServiceUnavailable):
    pass


class StorageFull(ServiceUnavailable):
    pass


BY_SLUG: dict[str, type[APIError]] = {
    "invalid-request": InvalidRequest,
    "invalid-attribute": InvalidAttribute,
    "invalid-message-attribute": InvalidMessageAttribute,
    "too-many-entries": TooManyEntries,
    "dead-letter-queue-not-found": DeadLetterQueueNotFound,
    "invalid-receipt-handle": InvalidReceiptHandle,
    "invalid-webhook-url": InvalidWebhookUrl,
    "forbidden-webhook-url": ForbiddenWebhookUrl,
    "invalid-key": InvalidKey,
    "decryption-failed": DecryptionFailed,
    "unauthorized": Unauthorized,
    "wrong-capability": WrongCapability,
    "quota-exceeded": QuotaExceeded,
    "client-not-allowed": ClientNotAllowed,
    "queue-not-found": QueueNotFound,
    "topic-not-found": TopicNotFound,
    "subscription-not-found": SubscriptionNotFound,
    "message-not-found": MessageNotFound,
    "stale-receipt-handle": StaleReceiptHandle,
    "message-too-large": MessageTooLarge,
    "request-too-large": RequestTooLarge,
    "queue-full": QueueFull,
    "rate-limited": RateLimited,
    "storage-unavailable": StorageUnavailable,
    "shutting-down": ShuttingDown,
    "too-many-connections": TooManyConnections,
    "storage-full": StorageFull,
    "not-a-dead-letter-queue": NotADeadLetterQueue,
    "move-task-running": MoveTaskRunning,
    "move-task-not-found": MoveTaskNotFound,
}
BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: TooManyRequests,
    503: ServiceUnavailable,
    507: StorageFull,
}


def from_response(status: int, problem: dict[str, Any], retry_after: str | None) -> APIError:
    """The exception for a refused request, chosen by problem type, then by status."""
    slug = str(problem.get("type", "")).rstrip("/").rsplit("/", 1)[-1]
    cls = BY_SLUG.get(slug) or BY_STATUS.get(status) or APIError
    if issubclass(cls, TooManyRequests):
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return cls(status, problem, seconds)
    return cls(status, problem)
