"""The EMS ASGI application: lifespan, routing and error rendering.

Routing is a split of the path, not a regex table: EMS's URL space is small and fixed, and the
router runs on every request of the hot path.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Final

from ems import __version__
from ems.config import Settings
from ems.core.errors import EmsError
from ems.core.queues import QueueService
from ems.core.topics import TopicService
from ems.delivery.client import WebhookClient
from ems.delivery.dispatcher import Dispatcher
from ems.delivery.ssrf import AddressPolicy, resolve
from ems.server import problems
from ems.server.http import Receive, Scope, Send, respond, respond_json
from ems.server.queues import QueueHandlers
from ems.server.topics import TopicHandlers
from ems.storage.base import Store

log = logging.getLogger("ems.server")

_SLASHES: Final = re.compile(r"/{2,}")


class EmsApp:
    """An ASGI application serving one store.

    The store is opened on lifespan startup (or :meth:`startup`) and closed on shutdown; call
    :meth:`begin_shutdown` when a stop is requested so long polls return at once.
    """

    def __init__(
        self, store: Store, settings: Settings | None = None, *, housekeeping: bool = True
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self._housekeeping = housekeeping
        self._service: QueueService | None = None
        self._queues: QueueHandlers | None = None
        self._topics: TopicHandlers | None = None
        self._dispatcher: Dispatcher | None = None
        self.address_policy = AddressPolicy.from_settings(
            self.settings.webhook_allow_private, self.settings.webhook_allow_nets
        )
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

    async def startup(self) -> None:
        await self.store.open()
        self._service = await QueueService.create(self.store)
        self._queues = QueueHandlers(self._service)
        topics = TopicService(
            self.store,
            check_url=self._check_webhook_url,
            skip_confirmation=self.settings.webhook_skip_confirmation,
        )
        self._topics = TopicHandlers(topics, self.settings.public_url)
        self._dispatcher = Dispatcher(
            self.store,
            WebhookClient(self.address_policy, user_agent=f"EMS-Webhooks/{__version__}"),
            clock=self.store.clock,
        )
        self._dispatcher.start()
        if self._housekeeping:
            self._service.start_housekeeping()
        self.ready = True

    async def _check_webhook_url(self, url: str) -> None:
        """At subscribe time: refuse a URL whose host resolves to a forbidden address."""
        # a host that does not resolve now is accepted: deliveries check again, and retry
        with contextlib.suppress(OSError):
            await resolve(url, self.address_policy)

    def begin_shutdown(self) -> None:
        """Release long polls now; in-flight requests then finish quickly."""
        self.ready = False
        self.store.wakeups.close()

    async def shutdown(self) -> None:
        self.begin_shutdown()
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        if self._service is not None:
            await self._service.stop_housekeeping()
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
        path: str = scope["path"]
        if "//" in path:
            path = _SLASHES.sub("/", path)
        parts = path.strip("/").split("/")
        try:
            if len(parts) >= 2 and parts[0] == "ems":
                if parts[1] == "queue" and self._queues is not None:
                    handler = self._queues.route(scope["method"], parts[2:])
                    await handler(scope, receive, send, parts[2:])
                elif parts[1] == "topic" and self._topics is not None:
                    handler = self._topics.route(scope["method"], parts[2:])
                    await handler(scope, receive, send, parts[2:])
                elif parts[1] == "problems" and len(parts) == 3:
                    await self._describe_problem(send, parts[2])
                else:
                    raise problems.RouteNotFound(f"No such resource: {path}.")
            elif parts == ["healthz"]:
                await respond_json(send, 200, {"status": "ok", "version": __version__})
            else:
                raise problems.RouteNotFound(f"No such resource: {path}.")
        except EmsError as error:
            await self._problem(send, error)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], _redact(path))
            await self._problem(send, problems.InternalError())

    @staticmethod
    async def _problem(send: Send, error: EmsError) -> None:
        headers = [(b"content-type", problems.CONTENT_TYPE)]
        if isinstance(error, problems.MethodNotAllowed):
            headers.append((b"allow", ", ".join(error.allowed).encode()))
        try:
            await respond(send, problems.status_of(error), problems.render(error), headers)
        except RuntimeError:
            # the response had already started: nothing more can be said to this client
            log.warning("error after the response started: %s", error.slug)

    @staticmethod
    async def _describe_problem(send: Send, slug: str) -> None:
        cls = problems.catalogue().get(slug)
        if cls is None:
            raise problems.RouteNotFound(f"No problem type is named {slug!r}.")
        await respond_json(
            send,
            200,
            {
                "type": problems.PROBLEM_BASE + slug,
                "title": cls.title,
                "status": problems.STATUS[cls],
                "description": (cls.__doc__ or cls.title).strip(),
            },
        )


def _redact(path: str) -> str:
    """Ids are capabilities: a path is logged with its id and receipt segments elided."""
    parts = path.split("/")
    return "/".join(p if len(p) < 16 else "…" for p in parts)
