"""``/ems/admin``: operators see and steer queues and topics, known only by their hashes.

The admin API and its console (``/ems/admin/console``) exist only when ``EMS_ADMIN_TOKEN`` is
set, and the API answers only that token. It never shows an id: the server does not have them,
only their SHA-256.
"""

from __future__ import annotations

import binascii
import re
from typing import Any, Final

from ems.asgi import Handler, PathArgs, Receive, Scope, Send, query, respond, respond_json
from ems.core.encoding import rfc3339
from ems.core.errors import (
    InvalidRequest,
    QueueNotFound,
    SubscriptionNotFound,
    TopicNotFound,
    quoted,
)
from ems.core.limits import (
    ADMIN_OFFSET as OFFSET,
)
from ems.core.limits import (
    ADMIN_PEEK as PEEK,
)
from ems.core.limits import (
    ADMIN_TABLE_PAGE as TABLE_PAGE,
)
from ems.core.limits import (
    MAX_ADMIN_FILTER_CHARS as MAX_FILTER_CHARS,
)
from ems.core.limits import (
    Bound,
    parse_cursor,
)
from ems.core.metrics import Metrics
from ems.core.models import IdScope, QueueOrder, QueuePage, QueueRecord
from ems.server import problems
from ems.server.access import AdminToken
from ems.server.admin_redrive import AdminRedrive
from ems.server.admin_views import (
    ServerFacts,
    admin_subscription,
    overview,
    queue_detail,
    queue_row,
)
from ems.server.message_answers import peeked_document
from ems.server.pages import load_assets, serve
from ems.server.routing import Route, RouteTable
from ems.server.topics import stats_document
from ems.storage.base import Store

PAGE: Final = Bound("limit", 1, 1000, "items")
LIST_PARAMS: Final = frozenset({"after", "limit"})
TABLE_PARAMS: Final = frozenset({"sort", "order", "filter", "offset", "limit"})
_HEX: Final = re.compile(r"[0-9a-f]+")
# control characters and lone surrogates match no label, and PostgreSQL refuses them as text
_UNMATCHABLE: Final = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# what subscription ids are made of: anything else names no subscription
_SUBSCRIPTION_ID: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
CONSOLE_FILES: Final = frozenset(
    {"console.js", "console-base.js", "console-queues.js", "charts.js", "console.css", "ems.css",
     "logo.svg"}
)  # fmt: skip
_NONE: Final = frozenset[str]()


_ADMIN: Final = "/ems/admin/"


class AdminHandlers:
    def __init__(self, store: Store, token: AdminToken, metrics: Metrics | None = None) -> None:
        self.store = store
        self.token = token
        self.metrics = metrics or Metrics()
        self.facts = ServerFacts(store)
        # dead-letter redrive; its Redrive is set when the app starts
        self.moves = AdminRedrive()
        self._assets = load_assets(CONSOLE_FILES | {"console.html"}) if token.enabled else {}
        served: list[tuple[str, dict[str, Handler]]] = [
            ("console", {"GET": self.console}),
            ("console/{name}", {"GET": self.console_file}),
            ("overview", {"GET": self.overview}),
            ("queue-table", {"GET": self.queue_table}),
            ("queues", {"GET": self.queues}),
            ("queues/{hash}", {"GET": self.queue, "DELETE": self.delete_queue}),
            ("queues/{hash}/messages", {"GET": self.peek}),
            ("queues/{hash}/purge", {"POST": self.purge}),
            ("queues/{hash}/redrive",
             {"GET": self.redrive_show, "POST": self.redrive_start,
              "DELETE": self.redrive_cancel}),
            ("topics", {"GET": self.topics}),
            ("topics/{hash}", {"GET": self.topic, "DELETE": self.delete_topic}),
            ("topics/{hash}/subscriptions/{subscription_id}", {"DELETE": self.unsubscribe}),
            ("topics/{hash}/subscriptions/{subscription_id}/retry", {"POST": self.retry}),
        ]  # fmt: skip
        self.routes = [Route(_ADMIN + t, m, "this admin resource") for t, m in served]
        self.table = RouteTable("/ems/admin", self.routes)

    def route(self, method: str, parts: list[str]) -> tuple[Handler, str, PathArgs]:
        """The handler for ``/ems/admin/...`` (``parts`` starts after ``admin``)."""
        if not self.token.enabled:
            raise problems.RouteNotFound("No such resource (the admin API is not enabled).")
        found = self.table.match(method, parts)
        if found is None:
            raise problems.RouteNotFound(
                "The admin API has /ems/admin/overview, /queues, /queue-table, /topics and "
                "/console."
            )
        return found

    # the console: a static page; everything it shows comes from the API with the token

    async def console(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        return await serve(scope, send, self._assets["console.html"], page=True)

    async def console_file(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        name = path["name"]
        asset = self._assets.get(name) if name in CONSOLE_FILES else None
        if asset is None:
            raise problems.RouteNotFound(f"No such file: {quoted(name, 64)}.")
        return await serve(scope, send, asset, page=False)

    async def overview(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        totals = await self.store.admin_totals()
        document = overview(
            self.facts,
            totals,
            self.metrics,
            commits=self.store.commit_stats,
            waiting=self.store.wakeups.waiting,
            now_ms=self.store.clock.now_ms(),
        )
        return await respond_json(send, 200, document)

    # queues

    async def queue_table(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        self.token.check(scope)
        page = _table_page(query(scope, TABLE_PARAMS))
        total, found = await self.store.admin_queue_page(page)
        rows = []
        for summary in found:
            try:
                stats = await self.store.queue_stats(summary.id_hash)
            except QueueNotFound:
                stats = None  # deleted since the page was read
            rows.append(queue_row(summary, stats, self.metrics, self.store.clock.now_ms()))
        answer = {"total": total, "offset": page.offset, "queues": rows}
        return await respond_json(send, 200, answer)

    async def queues(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        self.token.check(scope)
        after, limit = _page(query(scope, LIST_PARAMS))
        now = self.store.clock.now_ms()
        found = await self.store.list_queues(after=after, limit=limit)
        items: list[dict[str, Any]] = [
            {
                "id_hash": q.id_hash.hex(),
                "created_at": rfc3339(q.created_at_ms),
                "owner": q.owner,
                "stored_messages": q.stored_messages,
                "stored_bytes": q.stored_bytes,
                "oldest_message_age_seconds": (
                    (now - q.oldest_sent_at_ms) // 1000 if q.oldest_sent_at_ms else None
                ),
            }
            for q in found
        ]
        next_page = str(found[-1].key) if len(found) == limit else None
        return await respond_json(send, 200, {"queues": items, "next": next_page})

    async def _full_queue(self, text: str) -> tuple[bytes, QueueRecord]:
        """The queue whose full id hashes to ``text``; a send or receive id's hash names none."""
        queue_hash = _hash(text, QueueNotFound)
        record = await self.store.get_queue(queue_hash)
        if record.scope is not IdScope.FULL:
            raise QueueNotFound()
        return queue_hash, record

    async def queue(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        queue_hash, record = await self._full_queue(path["hash"])
        stats = await self.store.queue_stats(queue_hash)
        now = self.store.clock.now_ms()
        return await respond_json(
            send, 200, queue_detail(queue_hash, record, stats, self.metrics, now)
        )

    async def peek(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        params = query(scope, LIST_PARAMS)
        after = parse_cursor(params["after"], "peek") if "after" in params else None
        limit = PEEK.parse(params["limit"]) if "limit" in params else 20
        queue_hash, _ = await self._full_queue(path["hash"])
        page = await self.store.peek(queue_hash, after=after, limit=limit)
        now = self.store.clock.now_ms()
        return await respond_json(
            send,
            200,
            {
                "messages": [peeked_document(m, now) for m in page.messages],
                "next": None if page.next_after is None else str(page.next_after),
            },
        )

    async def purge(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        await self.store.purge_queue((await self._full_queue(path["hash"]))[0])
        return await respond(send, 204)

    async def redrive_show(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        return await self.moves.show(scope, send, (await self._full_queue(path["hash"]))[0])

    async def redrive_start(
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        self.token.check(scope)
        source_hash = (await self._full_queue(path["hash"]))[0]
        return await self.moves.start(scope, receive, send, source_hash)

    async def redrive_cancel(
        self, scope: Scope, receive: Receive, send: Send, path: PathArgs
    ) -> int:
        self.token.check(scope)
        return await self.moves.cancel(scope, send, (await self._full_queue(path["hash"]))[0])

    async def delete_queue(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        await self.store.delete_queue((await self._full_queue(path["hash"]))[0])
        return await respond(send, 204)

    # topics

    async def topics(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        self.token.check(scope)
        after, limit = _page(query(scope, LIST_PARAMS))
        found = await self.store.list_topics(after=after, limit=limit)
        items = [
            {
                "id_hash": t.id_hash.hex(),
                "created_at": rfc3339(t.created_at_ms),
                "owner": t.owner,
                "subscriptions": t.subscriptions,
                "webhook_backlog": t.webhook_backlog,
                "failing_subscriptions": t.failing_subscriptions,
            }
            for t in found
        ]
        next_page = str(found[-1].key) if len(found) == limit else None
        return await respond_json(send, 200, {"topics": items, "next": next_page})

    async def topic(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        topic_hash = _hash(path["hash"], TopicNotFound)
        record = await self.store.get_topic(topic_hash)
        stats = await self.store.topic_stats(topic_hash)
        subscriptions = await self.store.list_subscriptions(topic_hash)
        due = await self.store.next_attempts(topic_hash)
        document = {
            "id_hash": topic_hash.hex(),
            "public_id": record.public_id,
            "created_at": rfc3339(record.created_at_ms),
            **stats_document(stats),
            "subscription_list": [admin_subscription(s, due.get(s.key)) for s in subscriptions],
        }
        return await respond_json(send, 200, document)

    async def delete_topic(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        await self.store.delete_topic(_hash(path["hash"], TopicNotFound))
        return await respond(send, 204)

    async def unsubscribe(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        await self.store.unsubscribe(
            _hash(path["hash"], TopicNotFound), _subscription(path["subscription_id"])
        )
        return await respond(send, 204)

    async def retry(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        self.token.check(scope)
        query(scope, _NONE)
        moved = await self.store.retry_now(
            _hash(path["hash"], TopicNotFound), _subscription(path["subscription_id"])
        )
        return await respond_json(send, 200, {"due_now": moved})


def _page(params: dict[str, str]) -> tuple[int, int]:
    after = parse_cursor(params["after"], "page") if "after" in params else 0
    limit = PAGE.parse(params["limit"]) if "limit" in params else 100
    return after, limit


def _table_page(params: dict[str, str]) -> QueuePage:
    sort = params.get("sort", QueueOrder.CREATED.value)
    if sort not in QueueOrder.__members__.values():
        known = ", ".join(o.value for o in QueueOrder)
        raise InvalidRequest(f"sort must be one of {known}; got {quoted(sort)}.", parameter="sort")
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be asc or desc; got {quoted(order)}.", parameter="order")
    text = params.get("filter", "").strip().lower()
    if len(text) > MAX_FILTER_CHARS or _UNMATCHABLE.search(text):
        raise InvalidRequest(
            f"filter may be at most {MAX_FILTER_CHARS} characters, without control characters.",
            parameter="filter",
        )
    # hex digits also match the start of id hashes, by whole bytes
    whole = len(text) - len(text) % 2
    prefix = bytes.fromhex(text[:whole]) if whole and _HEX.fullmatch(text) else None
    return QueuePage(
        order=QueueOrder(sort),
        descending=order == "desc",
        text=text or None,
        hash_prefix=prefix,
        offset=OFFSET.parse(params["offset"]) if "offset" in params else 0,
        limit=TABLE_PAGE.parse(params["limit"]) if "limit" in params else 50,
    )


def _subscription_of(path: PathArgs) -> tuple[bytes, str]:
    return _hash(path["hash"], TopicNotFound), _subscription(path["subscription_id"])


def _subscription(text: str) -> str:
    if _SUBSCRIPTION_ID.fullmatch(text) is None:
        raise SubscriptionNotFound()
    return text


def _hash(text: str, not_found: type[QueueNotFound] | type[TopicNotFound]) -> bytes:
    try:
        value = bytes.fromhex(text)
    except (ValueError, binascii.Error):
        raise not_found() from None
    if len(value) != 32:
        raise not_found()
    return value
