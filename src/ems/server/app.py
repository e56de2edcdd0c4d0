"""The EMS ASGI application: lifespan, access control, routing, errors, metrics.

Routing is a split of the path, not a regex table: EMS's URL space is small and fixed, and the
router runs on every request of the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import Final

from ems.asgi import Handler, PathArgs, Receive, Scope, Send, header, respond_json
from ems.config import Settings
from ems.core.errors import EmsError, ForbiddenWebhookUrl, ShuttingDown
from ems.core.metrics import Metrics
from ems.core.queues import QueueService
from ems.core.redrive import Redrive
from ems.core.sns_topics import SnsTopicService
from ems.core.stream_hub import StreamHub
from ems.delivery.client import WebhookClient
from ems.delivery.dispatcher import Dispatcher
from ems.delivery.email import Mailer
from ems.delivery.mail import Sender
from ems.delivery.smtp import SmtpPool, tls_context
from ems.delivery.smtp_target import SmtpTarget
from ems.delivery.ssrf import AddressPolicy, resolve
from ems.server import problems
from ems.server.access import AdminToken, Allowlist, ApiKeys, ClientAddress, RateLimiter
from ems.server.admin import AdminHandlers
from ems.server.connections import ConnectionStats
from ems.server.cors import Cors
from ems.server.crypto import CryptoHandlers
from ems.server.crypto import route_not_found as crypto_not_found
from ems.server.observe import WORDS, access_log, render_metrics
from ems.server.pages import PageHandlers
from ems.server.queues import QueueHandlers
from ems.server.queues import route_not_found as queue_not_found
from ems.server.redrive import RedriveHandlers
from ems.server.routing import Route, RouteTable
from ems.server.streams import StreamHandlers
from ems.server.topics import TopicHandlers
from ems.server.topics import route_not_found as topic_not_found
from ems.sns.handler import SnsApi
from ems.sqs.accounts import Accounts
from ems.sqs.handler import SqsApi
from ems.storage.base import Store
from ems.version import __version__

log = logging.getLogger("ems.server")

_SLASHES: Final = re.compile(r"/{2,}")
# health probes come from load balancers and orchestrators: never refused, never rate-limited
_PROBES: Final = frozenset({"healthz", "readyz"})


class EmsApp:
    """An ASGI application serving one store.

    The store is opened on lifespan startup (or :meth:`startup`) and closed on shutdown; call
    :meth:`begin_shutdown` when a stop is requested so long polls return at once.
    """

    def __init__(
        self, store: Store, settings: Settings | None = None, *, housekeeping: bool = True
    ) -> None:
        self.store = store
        self.settings = settings = settings or Settings()
        self._housekeeping = housekeeping
        self.metrics = Metrics()
        self._service: QueueService | None = None
        self._redrive: Redrive | None = None
        self._dispatcher: Dispatcher | None = None
        # /ems/{section}/...: the routes of each section, and what its 404 says (the queue and
        # topic sections are added on startup)
        self._sections: dict[str, tuple[RouteTable, Callable[[list[str]], str]]] = {
            "crypto": (RouteTable("/ems/crypto", CryptoHandlers().routes), crypto_not_found)
        }
        self._pages = PageHandlers(enabled=settings.playground)
        self._admin = AdminHandlers(store, AdminToken(settings.admin_token), self.metrics)
        self.address_policy = AddressPolicy.from_settings(
            settings.webhook_allow_private, settings.webhook_allow_nets
        )
        self._client = ClientAddress(settings.forwarded_allow_ips)
        self._allowlist = Allowlist(settings.allow_cidrs) if settings.allow_cidrs else None
        self._limiter = (
            RateLimiter(settings.rate_limit, settings.rate_burst) if settings.rate_limit else None
        )
        self._api_keys = ApiKeys.load(settings.api_keys, settings.api_keys_file)
        # the SQS API (docs/sqs.md): None when it is off
        self._sqs_accounts = Accounts.configure(
            settings.sqs_credentials,
            settings.host,
            api_keys=bool(self._api_keys),
            behind_proxy=bool(settings.forwarded_allow_ips),
        )
        self._sqs: SqsApi | None = None
        self._sns: SnsApi | None = None
        self._access_log = settings.access_log
        # what the connection limits (server/connections.py) did, for /metrics
        self.connections = ConnectionStats()
        # live streams: their limits, counts and topic listeners (core/stream_hub.py)
        self.streams = StreamHub(settings.max_streams_per_client, settings.max_streams_per_queue)
        self._cors = Cors(settings.cors_origins)
        self.draining = False
        own = [("/healthz", self._health), ("/readyz", self._ready), ("/metrics", self._metrics)]
        self._own_routes = RouteTable("", [Route(t, {"GET": h}, t) for t, h in own])
        self.ready = False

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the app has not started")
        return self._dispatcher

    @property
    def service(self) -> QueueService:
        if self._service is None:
            raise RuntimeError("the app has not started")
        return self._service

    @property
    def redrive(self) -> Redrive:
        """Dead-letter redrive (message move tasks): start, show, cancel by queue id."""
        if self._redrive is None:
            raise RuntimeError("the app has not started")
        return self._redrive

    @property
    def has_api_keys(self) -> bool:
        return bool(self._api_keys)

    def is_trusted_proxy(self, peer: str) -> bool:
        return self._client.is_trusted_proxy(peer)

    async def startup(self) -> None:
        if self._service is not None:
            return  # started before the server listened (serving.py); the lifespan repeats it
        await self.store.open()
        self._service = await QueueService.create(
            self.store,
            limits=self.settings.storage_limits,
            metrics=self.metrics,
            id_prefix=self.settings.id_prefix,
        )
        self._redrive = Redrive(self._service)
        self._admin.moves.redrive = self._redrive
        topics = SnsTopicService(
            self.store,
            check_url=self._check_webhook_url,
            skip_confirmation=self.settings.webhook_skip_confirmation,
            id_prefix=self.settings.id_prefix,
            email_base=self.settings.public_url if self.settings.email_enabled else None,
            live=self.streams.published,
        )
        streams = StreamHandlers(
            self._service,
            topics,
            self.streams,
            self._client.of,
            heartbeat_seconds=self.settings.stream_heartbeat_seconds,
        )
        queues = QueueHandlers(
            self._service,
            self._api_keys.authorize,
            max_response_bytes=self.settings.max_response_bytes,
            stream=streams.queue_stream,
        )
        queue_routes = queues.routes + RedriveHandlers(self._redrive).routes
        self._sections["queue"] = (RouteTable("/ems/queue", queue_routes), queue_not_found)
        topic_routes = TopicHandlers(
            topics, self.settings.public_url, self._api_keys.authorize, streams.topic_stream
        ).routes
        self._sections["topic"] = (RouteTable("/ems/topic", topic_routes), topic_not_found)
        self._sqs = await SqsApi.create(
            self._service, self._redrive, self._sqs_accounts, self.settings.public_url
        )
        if self._sqs is not None:
            # SNS on the same endpoint, with the same credentials (docs/sns.md)
            self._sns = self._sqs.sns = await SnsApi.create(topics, self._service)
        self._dispatcher = Dispatcher(
            self.store,
            WebhookClient(
                self.address_policy,
                user_agent=f"EMS-Webhooks/{__version__}",
                max_response_bytes=self.settings.webhook_max_response_bytes,
            ),
            clock=self.store.clock,
            metrics=self.metrics,
            mailer=self._mailer(),
        )
        self._dispatcher.start()
        if self._housekeeping:
            self._service.housekeeping.start()
            self._redrive.start_runner()
        self.ready = True

    def _mailer(self) -> Mailer | None:
        """What sends email subscriptions' mails, when the operator configured SMTP."""
        settings = self.settings
        if not settings.email_enabled:
            return None
        assert settings.smtp_url is not None
        assert settings.smtp_from is not None
        assert settings.public_url is not None
        pool = SmtpPool(
            SmtpTarget.parse(settings.smtp_url),
            AddressPolicy(allow_private=settings.smtp_allow_private),
            tls_context(str(settings.smtp_ca_file) if settings.smtp_ca_file else None),
        )
        return Mailer(
            Sender(settings.smtp_from, settings.public_url.rstrip("/")),
            pool,
            per_minute=settings.email_rate_limit,
            id_prefix=settings.id_prefix,
        )

    async def _check_webhook_url(self, url: str) -> None:
        """At subscribe time: refuse a URL whose host resolves to a forbidden address."""
        # a host that does not resolve now is accepted: deliveries check again, and retry
        with contextlib.suppress(OSError):
            try:
                await resolve(url, self.address_policy)
            except ForbiddenWebhookUrl:
                raise ForbiddenWebhookUrl(parameter="url") from None  # without the address

    def begin_drain(self) -> None:
        """A stop is coming: /readyz answers 503 so balancers move on; everything else serves."""
        self.draining = True
        self.ready = False

    def begin_shutdown(self) -> None:
        """Release long polls and end live streams now; in-flight requests then finish
        quickly."""
        self.ready = False
        self.streams.close()
        self.store.wakeups.close()

    async def shutdown(self) -> None:
        self.begin_shutdown()
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        if self._service is not None:
            await self._service.housekeeping.stop()
        if self._redrive is not None:
            await self._redrive.stop_runner()
        await self.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        if "//" in path:
            path = _SLASHES.sub("/", path)
        parts = path.strip("/").split("/")
        route = "unmatched"
        client = ""
        try:
            if self._allowlist or self._limiter or self._access_log:
                client = self._client.of(scope)
                if parts[0] not in _PROBES:
                    if self._allowlist is not None:
                        self._allowlist.check(client)
                    if self._limiter is not None:
                        self._limiter.check(client)
            if self._cors.enabled and self._cors.applies(parts):
                origin = header(scope, b"origin")
                if origin is not None:
                    if scope["method"] == "OPTIONS" and header(
                        scope, b"access-control-request-method"
                    ):
                        route = "/ems/* (CORS preflight)"
                        status = await self._cors.preflight(scope, send, origin)
                        self._count(scope, route, status, started, client)
                        return
                    send = self._cors.wrap(send, origin)
            handler, route, args = self._route(scope["method"], parts, path, scope["query_string"])
            status = await handler(scope, receive, send, args)
        except EmsError as error:
            status = await self._problem(send, error)
        except asyncio.CancelledError:
            # the server stopped waiting for this request (its graceful timeout ran out): say
            # so if nothing was said yet, and end quietly rather than as a traceback
            status = await self._problem(send, ShuttingDown())
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], route)
            status = await self._problem(send, problems.InternalError())
        self._count(scope, route, status, started, client)

    def _count(self, scope: Scope, route: str, status: int, started: float, client: str) -> None:
        elapsed = time.perf_counter() - started
        self.metrics.request(route, scope["method"], status, elapsed)
        if self._access_log:
            access_log.info(
                "%s %s %s %d %.1fms", client, scope["method"], route, status, elapsed * 1000
            )

    def _route(
        self, method: str, parts: list[str], path: str, query: bytes = b""
    ) -> tuple[Handler, str, PathArgs]:
        """The handler of a request, its route as a template, and the path's named segments."""
        if len(parts) >= 2 and parts[0] == "ems":
            section, rest = parts[1], parts[2:]
            routes = self._sections.get(section)
            if routes is not None:
                found = routes[0].match(method, rest)
                if found is None:
                    raise problems.RouteNotFound(routes[1](rest))
                return found
            if section == "admin":
                return self._admin.route(method, rest)
            if section == "problems" and len(parts) == 3:
                return problems.describe, problems.ROUTE, {"type": parts[2]}
        elif self._sqs is not None and self._sqs.claims(method, parts):
            return self._sqs.handle, self._sqs.route_of(parts), self._sqs.path_args(parts)
        if self._sns is not None and self._sns.claims_get(method, parts, query):
            if parts == [""]:
                return self._sns.handle_get, "/", {}
            return self._sns.handle_get, self._sns.certificate_route(), {"certificate": parts[2]}
        found = self._own_routes.match(method, parts) or self._pages.route(method, parts)
        if found is not None:
            return found
        raise problems.RouteNotFound(f"No such resource: {_redacted(path)}.")

    def route_templates(self) -> set[tuple[str, str]]:
        """Every (method, route template) this app serves once started."""
        if "queue" not in self._sections or "topic" not in self._sections:
            raise RuntimeError("the app has not started")
        served = {("GET", problems.ROUTE)}
        tables = [table for table, _ in self._sections.values()]
        for table in (*tables, self._own_routes, self._admin.table, self._pages.table):
            served.update(table.templates())
        return served

    async def _health(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        return await respond_json(send, 200, {"status": "ok", "version": __version__})

    async def _ready(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        if self.draining:
            return await respond_json(send, 503, {"ready": False, "stopping": True})
        outage = None if self.settings.readiness_ignores_storage else self.store.health.outage
        if not self.ready or outage is None:
            return await respond_json(send, 200 if self.ready else 503, {"ready": self.ready})
        return await respond_json(send, 503, {"ready": False, "storage": outage.kind})

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        return await render_metrics(
            send,
            self.metrics,
            self.store,
            self.store.wakeups.waiting,
            self.connections,
            self.settings.metrics_labelled_queues,
            streams=self.streams,
        )

    async def _problem(self, send: Send, error: EmsError) -> int:
        self.metrics.problems[error.slug] += 1
        return await problems.answer(send, error)


def _redacted(path: str) -> str:
    """A path as it may be echoed: ids, handles and tokens elided."""
    return "/" + "/".join(p if p in WORDS else "{id}" for p in path.strip("/").split("/")[:6])
