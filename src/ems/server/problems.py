"""RFC 9457 problem details for every error a client can receive.

The ``type`` of a problem is ``/ems/problems/<slug>``: stable, and a GET on it describes the
problem. Clients should branch on ``type`` (or ``status``), never on ``detail`` wording.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from ems.asgi import PathArgs, Receive, Scope, Send, dumps, respond, respond_json
from ems.core import crypto, errors

PROBLEM_BASE: Final = "/ems/problems/"
ROUTE: Final = "/ems/problems/{type}"
CONTENT_TYPE: Final = b"application/problem+json"

log = logging.getLogger("ems.server")

STATUS: Final[dict[type[errors.EmsError], int]] = {
    errors.InvalidRequest: 400,
    errors.InvalidAttribute: 400,
    errors.InvalidMessageAttribute: 400,
    errors.TooManyEntries: 400,
    errors.MissingGroupId: 400,
    errors.DeadLetterQueueNotFound: 400,
    errors.InvalidReceiptHandle: 400,
    errors.QueueNotFound: 404,
    errors.MessageNotFound: 404,
    errors.StaleReceiptHandle: 409,
    errors.MessageTooLarge: 413,
    errors.RequestTooLarge: 413,
    errors.StorageUnavailable: 503,
    # RFC 4918: the server cannot store what the request needs; not "retry shortly" (503)
    errors.StorageFull: 507,
    errors.ShuttingDown: 503,
    errors.TopicNotFound: 404,
    errors.SubscriptionNotFound: 404,
    errors.ConfirmationNotFound: 404,
    errors.InvalidWebhookUrl: 400,
    errors.ForbiddenWebhookUrl: 400,
    errors.InvalidEmailAddress: 400,
    errors.EmailNotConfigured: 400,
    errors.UnsubscribeLinkNotFound: 404,
    crypto.InvalidKey: 400,
    crypto.DecryptionFailed: 400,
    errors.QueueFull: 429,
    errors.WrongCapability: 403,
    errors.Unauthorized: 401,
    errors.QuotaExceeded: 403,
    errors.ClientNotAllowed: 403,
    errors.RateLimited: 429,
    errors.TooManyStreams: 429,
    errors.NotADeadLetterQueue: 400,
    errors.MoveTaskRunning: 409,
    errors.MoveTaskNotFound: 404,
}


class RouteNotFound(errors.EmsError):
    """No resource has this path."""

    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(errors.EmsError):
    """The resource exists but does not support this method; see the Allow header."""

    slug = "method-not-allowed"
    title = "Method not allowed"

    def __init__(self, detail: str, allowed: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.allowed = allowed


class InternalError(errors.EmsError):
    """A bug in EMS, logged on the server; the request may or may not have taken effect."""

    slug = "internal-error"
    title = "Internal server error"
    default_detail = (
        "The server failed to handle this request; it has been logged. Retry, and report it if "
        "it persists."
    )


class RequestTimeout(errors.EmsError):
    """The request's headers, or its body, stopped arriving before it was complete."""

    slug = "request-timeout"
    title = "Request timeout"


class HeadersTooLarge(errors.EmsError):
    """The request line and header fields are larger than the server reads (--max-header-bytes)."""

    slug = "headers-too-large"
    title = "Request header fields too large"


class TooManyConnections(errors.EmsError):
    """The server, or this client address, has as many connections open as it allows."""

    slug = "too-many-connections"
    title = "Too many connections"


class OriginNotAllowed(errors.EmsError):
    """A page on an origin this server does not allow asked to call it (see --cors-origin)."""

    slug = "origin-not-allowed"
    title = "Origin not allowed"


STATUS.update(
    {
        OriginNotAllowed: 403,
        RouteNotFound: 404,
        MethodNotAllowed: 405,
        InternalError: 500,
        RequestTimeout: 408,
        HeadersTooLarge: 431,
        TooManyConnections: 503,
    }
)

H = TypeVar("H")


def pick(methods: Mapping[str, H], method: str, what: str) -> H:
    """The handler for ``method``, or a 405 that lists the methods ``what`` supports.

    HEAD is answered wherever GET is, by the GET handler (RFC 9110; the server sends the
    headers and drops the body), unless ``methods`` gives HEAD a handler of its own.
    """
    handler = methods.get(method)
    if handler is None:
        if method == "HEAD" and "GET" in methods:
            return methods["GET"]
        allowed = tuple(methods)
        if "GET" in methods and "HEAD" not in methods:
            at = allowed.index("GET") + 1
            allowed = (*allowed[:at], "HEAD", *allowed[at:])
        raise MethodNotAllowed(
            f"{method} is not supported on {what}; use {', '.join(allowed)}.", allowed
        )
    return handler


def status_of(error: errors.EmsError) -> int:
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def problem(error: errors.EmsError, *, instance: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
    }
    if instance is not None:
        document["instance"] = instance
    parameter = getattr(error, "parameter", None)
    if parameter is not None:
        document["parameter"] = parameter
    return document


def render(error: errors.EmsError) -> bytes:
    # dumps escapes what cannot be UTF-8: a detail may echo what the client sent
    return dumps(problem(error))


def catalogue() -> dict[str, type[errors.EmsError]]:
    """Every problem type by slug, for the ``/ems/problems/<slug>`` pages."""
    return {cls.slug: cls for cls in STATUS}


async def answer(send: Send, error: errors.EmsError) -> int:
    """Answer with ``error`` as problem+json, with the headers its status calls for."""
    headers = [(b"content-type", CONTENT_TYPE)]
    if isinstance(error, MethodNotAllowed):
        headers.append((b"allow", ", ".join(error.allowed).encode()))
    elif isinstance(error, errors.RateLimited):
        headers.append((b"retry-after", b"%d" % max(1, round(error.retry_after + 0.5))))
    elif status_of(error) == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    try:
        return await respond(send, status_of(error), render(error), headers)
    except RuntimeError:
        # the response had already started: nothing more can be said to this client
        log.warning("error after the response started: %s", error.slug)
        return status_of(error)


async def describe(scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
    """``GET /ems/problems/{type}``: what a problem type means."""
    slug = path["type"]
    cls = catalogue().get(slug)
    if cls is None:
        raise RouteNotFound(f"No problem type is named {errors.quoted(slug)}.")
    return await respond_json(
        send,
        200,
        {
            "type": PROBLEM_BASE + slug,
            "title": cls.title,
            "status": STATUS[cls],
            "description": (cls.__doc__ or cls.title).strip(),
        },
    )
