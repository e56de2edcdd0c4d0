"""HTTP handlers for ``/ems/topic``: topics, subscriptions, publishing and confirmation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Final

from ems.asgi import (
    JSON,
    Receive,
    Scope,
    Send,
    header,
    query,
    read_body,
    read_json,
    respond,
    respond_json,
)
from ems.core import fifo_topics, idempotency, limits
from ems.core.encoding import rfc3339
from ems.core.errors import InvalidRequest, MessageTooLarge, quoted
from ems.core.topic_models import Protocol, SubscriptionRecord, TopicStats
from ems.core.topics import TopicService, TopicView, new_topic_message
from ems.server import fifo_sends, idempotent_sends, problems
from ems.server.email_links import (
    HTML,
    MAX_LINK_BODY,
    UNSUBSCRIBE_ROUTE,
    EmailLinks,
    confirm_page,
    confirmed_page,
    wants_html,
)
from ems.server.queues import CreationCheck, attributes_from_headers

Handler = Callable[[Scope, Receive, Send, list[str]], Awaitable[int]]
NO_PARAMS: Final = frozenset[str]()
SUBSCRIBE_PARAMS: Final = frozenset({"queue_id", "url", "email"})
PUBLISH_PARAMS: Final = frozenset({"correlation_id"})
CONFIRM_ROUTE: Final = "/ems/topic/confirm/{token}"
SUBSCRIPTION_ROUTE: Final = "/ems/topic/{id}/subscription/{subscription_id}"


def topic_document(view: TopicView) -> dict[str, Any]:
    record = view.record
    document: dict[str, Any] = {
        "topic_id": view.topic_id,
        "public_id": record.public_id,
        "max_message_bytes": record.config.max_message_bytes,
        "fifo": record.config.fifo is not None,
        "created_at": rfc3339(record.created_at_ms),
    }
    if record.config.fifo is not None:
        document["content_based_deduplication"] = record.config.fifo.content_based_deduplication
    return document


def stats_document(stats: TopicStats) -> dict[str, Any]:
    return {
        "subscriptions": {
            "queue": stats.queue_subscriptions,
            "http_confirmed": stats.http_confirmed,
            "http_pending_confirmation": stats.http_pending,
            "email_confirmed": stats.email_confirmed,
            "email_pending_confirmation": stats.email_pending,
        },
        "pending_deliveries": stats.pending_deliveries,
    }


def subscription_document(record: SubscriptionRecord) -> dict[str, Any]:
    document: dict[str, Any] = {
        "subscription_id": record.subscription_id,
        "protocol": record.protocol.value,
        "endpoint": TopicService.endpoint(record),
        "status": record.status.value,
        "filter_policy": record.filter_policy.document if record.filter_policy else None,
        "created_at": rfc3339(record.created_at_ms),
    }
    if record.filter_policy is not None:
        document["filter_policy_scope"] = record.filter_policy.scope.value
    if record.protocol is Protocol.QUEUE:
        # queue subscriptions only fail when the queue cannot take a message (size, full)
        stats = record.stats
        document["deliveries"] = {
            "failed": stats.failed,
            "last_attempt_at": rfc3339(stats.last_attempt_at_ms),
            "last_error": stats.last_error,
        }
    if record.protocol is Protocol.EMAIL:
        # no signing_secret: for email it is the key of the unsubscribe links, and stays here
        document["display_name"] = record.policy.display_name
    elif record.protocol is Protocol.HTTP:
        document.update(
            signing_secret=record.signing_secret,
            envelope=record.policy.envelope,
            timeout_seconds=record.policy.timeout_seconds,
            max_concurrency=record.policy.max_concurrency,
        )
    if record.protocol is not Protocol.QUEUE:
        policy = record.policy
        stats = record.stats
        document.update(
            max_attempts=policy.max_attempts,
            min_retry_seconds=policy.min_retry_seconds,
            max_retry_seconds=policy.max_retry_seconds,
            dead_letter_queue=TopicService.dead_letter_queue(record),
            deliveries={
                "delivered": stats.delivered,
                "failed": stats.failed,
                "pending": stats.pending,
                "attempts": stats.attempts,
                "last_attempt_at": rfc3339(stats.last_attempt_at_ms),
                "last_status": stats.last_status,
                "last_error": stats.last_error,
                "last_success_at": rfc3339(stats.last_success_at_ms),
            },
        )
    return document


class TopicHandlers:
    def __init__(
        self,
        service: TopicService,
        public_url: str | None,
        authorize_creation: CreationCheck,
        stream: Handler | None = None,
    ) -> None:
        self.service = service
        self.public_url = public_url
        self.authorize_creation = authorize_creation
        self.routes: dict[tuple[str, ...], dict[str, Handler]] = {
            (): {"GET": self.describe, "DELETE": self.delete},
            ("subscription",): {"POST": self.subscribe, "GET": self.list_subscriptions},
            ("message",): {"POST": self.publish},
        }
        if stream is not None:  # the live stream (server/streams.py)
            self.routes[("stream",)] = {"GET": stream}
        self.subscription_routes: dict[str, Handler] = {
            "GET": self.subscription,
            "DELETE": self.unsubscribe,
        }
        self.email_links = EmailLinks(service)

    def templates(self) -> list[tuple[str, str]]:
        """Every (method, route template) served here: what the API description must cover."""
        served = [("POST", "/ems/topic"), ("GET", CONFIRM_ROUTE), ("POST", CONFIRM_ROUTE)]
        served += [(m, UNSUBSCRIBE_ROUTE) for m in self.email_links.routes]
        for key, methods in self.routes.items():
            served += [(m, "/ems/topic/{id}" + "".join("/" + p for p in key)) for m in methods]
        return served + [(m, SUBSCRIPTION_ROUTE) for m in self.subscription_routes]

    def route(self, method: str, parts: list[str]) -> tuple[Handler, str]:
        """The handler for ``/ems/topic/...`` (``parts`` starts after ``topic``), and its route
        as a template."""
        if not parts:
            return problems.pick({"POST": self.create}, method, "/ems/topic"), "/ems/topic"
        if len(parts) == 2 and parts[0] == "confirm":
            handler: Handler = problems.pick(
                {"GET": self.confirm, "POST": self.confirm, "HEAD": self.confirm_head},
                method,
                "a confirmation link",
            )
            return handler, CONFIRM_ROUTE
        if len(parts) == 2 and parts[0] == "unsubscribe":
            handler = problems.pick(self.email_links.routes, method, "an unsubscribe link")
            return handler, UNSUBSCRIBE_ROUTE
        if len(parts) == 3 and parts[1] == "subscription":
            handler = problems.pick(self.subscription_routes, method, "a subscription")
            return handler, SUBSCRIPTION_ROUTE
        key = tuple(parts[1:])
        methods = self.routes.get(key)
        if methods is None:
            raise problems.RouteNotFound(
                "No such resource under /ems/topic/{topic_id}: "
                f"{quoted('/' + '/'.join(parts[1:]), 80)}."
            )
        label = "/ems/topic/{id}" + "".join("/" + p for p in key)
        return problems.pick(methods, method, "this resource"), label

    async def create(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
        query(scope, NO_PARAMS)
        document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES, optional=True)
        owner, quota = self.authorize_creation(scope, "topics")
        view = await self.service.create_topic(document, owner=owner, quota=quota)
        location = f"/ems/topic/{view.topic_id}".encode()
        return await respond_json(send, 201, topic_document(view), [(b"location", location)])

    async def describe(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        query(scope, NO_PARAMS)
        record, stats = await self.service.describe_topic(parts[0])
        document = topic_document(TopicView(parts[0], record))
        document.update(stats_document(stats))
        return await respond_json(send, 200, document)

    async def delete(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        query(scope, NO_PARAMS)
        await self.service.delete_topic(parts[0])
        return await respond(send, 204)

    async def subscribe(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        params = query(scope, SUBSCRIBE_PARAMS)
        topic_id = parts[0]
        await self.service.get_topic(topic_id)
        if len(params) != 1:
            raise InvalidRequest(
                "Subscribe one of: a queue (?queue_id=...), a webhook (?url=https://...) or an "
                "email address (?email=...).",
                parameter="queue_id",
            )
        document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES, optional=True)
        if "queue_id" in params:
            record = await self.service.subscribe_queue(topic_id, params["queue_id"], document)
        elif "email" in params:
            record = await self.service.subscribe_email(topic_id, params["email"], document)
        else:
            record = await self.service.subscribe_url(
                topic_id, params["url"], document, confirm_base=self._base_url(scope)
            )
        return await respond_json(
            send, 201 if record.created else 200, subscription_document(record)
        )

    def _base_url(self, scope: Scope) -> str | None:
        """Where people reach this server, for confirmation links: ``--public-url``, else the
        address the request arrived on. Never the ``Host`` header: any client sets that, and
        the link goes to a webhook's operator, who would open it."""
        if self.public_url:
            return self.public_url.rstrip("/")
        server = scope.get("server")
        if not server or server[0].startswith("/"):  # a Unix socket: no address to name
            return None
        host, port = server
        host = f"[{host}]" if ":" in host else host
        return f"{scope['scheme']}://{host}" + (f":{port}" if port is not None else "")

    async def list_subscriptions(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> int:
        query(scope, NO_PARAMS)
        records = await self.service.subscriptions(parts[0])
        return await respond_json(
            send,
            200,
            {"subscriptions": [subscription_document(r) for r in records]},
        )

    async def subscription(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> int:
        query(scope, NO_PARAMS)
        record = await self.service.subscription(parts[0], parts[2])
        return await respond_json(send, 200, subscription_document(record))

    async def unsubscribe(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> int:
        query(scope, NO_PARAMS)
        await self.service.unsubscribe(parts[0], parts[2])
        return await respond(send, 204)

    async def confirm(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        """GET or POST confirms; but a browser's GET only gets a page with a button that POSTs.

        Mail security scanners and link previews open every link in a mail, as browsers: if
        that confirmed, double opt-in would confirm addresses whose owners never asked. Programs
        (curl, an operator's script, a webhook endpoint) GET without asking for HTML, and
        confirm at once as before."""
        html = wants_html(scope)
        if html and scope["method"] == "GET":
            return await respond(send, 200, confirm_page(), HTML)
        if scope["method"] == "POST":
            await read_body(scope, receive, MAX_LINK_BODY)
        record = await self.service.confirm(parts[1])
        if html:
            return await respond(send, 200, confirmed_page(), HTML)
        return await respond_json(
            send, 200, {"subscription_id": record.subscription_id, "status": record.status.value}
        )

    @staticmethod
    async def confirm_head(scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        """HEAD of a confirmation link confirms nothing: link checkers and mail scanners send
        it without the reader's consent."""
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await send({"type": "http.response.body", "body": b""})
        return 200

    async def publish(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> int:
        topic_id = parts[0]
        topic = await self.service.get_topic(topic_id)
        params = query(scope, PUBLISH_PARAMS)
        correlation_id = (
            limits.check_correlation_id(params["correlation_id"])
            if "correlation_id" in params
            else None
        )
        attributes = attributes_from_headers(scope)
        key = idempotent_sends.header_key(scope)
        group, deduplication = fifo_sends.headers(scope)
        limit = topic.config.max_message_bytes
        body = await read_body(scope, receive, limit, too_large=MessageTooLarge)
        content_type = header(scope, b"content-type")
        message = new_topic_message(
            body,
            content_type=content_type.decode("latin-1") if content_type else None,
            correlation_id=correlation_id,
            attributes=attributes,
            max_bytes=limit,
        )
        fifo = fifo_topics.publish_ids(
            topic.config.fifo, group, deduplication, key, body, where="EMS-Group-Id"
        )
        key_hash = None if key is None else idempotency.key_hash(key)
        if fifo is not None:
            group_id, deduplication_id, key_hash = fifo
            message = replace(message, group_id=group_id, deduplication_id=deduplication_id)
        result = await self.service.publish(topic_id, message, key_hash)
        if result.duplicate_of is not None:
            return await idempotent_sends.answer_publish_repeat(send, result.duplicate_of)
        return await respond_json(
            send,
            201,
            {
                "message_id": message.message_id,
                "queues": result.queues,
                "webhooks": result.webhooks,
                "skipped": result.skipped,
                "emails": result.emails,
            },
        )
