"""HTTP handlers for ``/ems/topic``: topics, subscriptions, publishing and confirmation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from ems.asgi import (
    JSON,
    Handler,
    PathArgs,
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
from ems.core.topic_models import SubscriptionProtocol, SubscriptionRecord, TopicStats
from ems.core.topics import TopicService, TopicView, new_topic_message
from ems.server import fifo_sends, idempotent_sends
from ems.server.email_links import (
    HTML,
    MAX_LINK_BODY,
    UNSUBSCRIBE_ROUTE,
    EmailLinks,
    confirm_page,
    confirmed_page,
    wants_html,
)
from ems.server.message_input import attributes_from_headers
from ems.server.queues import CreationCheck
from ems.server.routing import Route

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
    if record.protocol is SubscriptionProtocol.QUEUE:
        # queue subscriptions only fail when the queue cannot take a message (size, full)
        stats = record.stats
        document["deliveries"] = {
            "failed": stats.failed,
            "last_attempt_at": rfc3339(stats.last_attempt_at_ms),
            "last_error": stats.last_error,
        }
    if record.protocol is SubscriptionProtocol.EMAIL:
        # no signing_secret: for email it is the key of the unsubscribe links, and stays here
        document["display_name"] = record.policy.display_name
    elif record.protocol is SubscriptionProtocol.HTTP:
        document.update(
            signing_secret=record.signing_secret,
            envelope=record.policy.envelope,
            timeout_seconds=record.policy.timeout_seconds,
            max_concurrency=record.policy.max_concurrency,
        )
    if record.protocol is not SubscriptionProtocol.QUEUE:
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
        self.email_links = EmailLinks(service)
        self.routes = [
            Route("/ems/topic", {"POST": self.create}, "/ems/topic"),
            Route(CONFIRM_ROUTE,
                  {"GET": self.confirm, "POST": self.confirm, "HEAD": self.confirm_head},
                  "a confirmation link"),
            Route(UNSUBSCRIBE_ROUTE, self.email_links.routes, "an unsubscribe link"),
            Route("/ems/topic/{id}", {"GET": self.describe, "DELETE": self.delete}),
            Route("/ems/topic/{id}/subscription",
                  {"POST": self.subscribe, "GET": self.list_subscriptions}),
            Route("/ems/topic/{id}/message", {"POST": self.publish}),
            Route(SUBSCRIPTION_ROUTE, {"GET": self.subscription, "DELETE": self.unsubscribe},
                  "a subscription"),
        ]  # fmt: skip
        if stream is not None:  # the live stream (server/streams.py)
            self.routes.append(Route("/ems/topic/{id}/stream", {"GET": stream}))

    async def create(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        document = await read_json(scope, receive, limits.MAX_JSON_REQUEST_BYTES, optional=True)
        owner, quota = self.authorize_creation(scope, "topics")
        view = await self.service.create_topic(document, owner=owner, quota=quota)
        location = f"/ems/topic/{view.topic_id}".encode()
        return await respond_json(send, 201, topic_document(view), [(b"location", location)])

    async def describe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        record, stats = await self.service.describe_topic(path["id"])
        document = topic_document(TopicView(path["id"], record))
        document.update(stats_document(stats))
        return await respond_json(send, 200, document)

    async def delete(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        await self.service.delete_topic(path["id"])
        return await respond(send, 204)

    async def subscribe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        params = query(scope, SUBSCRIBE_PARAMS)
        topic_id = path["id"]
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
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        query(scope, NO_PARAMS)
        records = await self.service.subscriptions(path["id"])
        return await respond_json(
            send,
            200,
            {"subscriptions": [subscription_document(r) for r in records]},
        )

    async def subscription(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        record = await self.service.subscription(path["id"], path["subscription_id"])
        return await respond_json(send, 200, subscription_document(record))

    async def unsubscribe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        query(scope, NO_PARAMS)
        await self.service.unsubscribe(path["id"], path["subscription_id"])
        return await respond(send, 204)

    async def confirm(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
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
        record = await self.service.confirm(path["token"])
        if html:
            return await respond(send, 200, confirmed_page(), HTML)
        return await respond_json(
            send, 200, {"subscription_id": record.subscription_id, "status": record.status.value}
        )

    @staticmethod
    async def confirm_head(scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        """HEAD of a confirmation link confirms nothing: link checkers and mail scanners send
        it without the reader's consent."""
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        await send({"type": "http.response.body", "body": b""})
        return 200

    async def publish(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        topic_id = path["id"]
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


def route_not_found(parts: list[str]) -> str:
    """What a 404 under ``/ems/topic`` says (``parts``: the path after ``/ems/topic``)."""
    return (
        f"No such resource under /ems/topic/{{topic_id}}: {quoted('/' + '/'.join(parts[1:]), 80)}."
    )
