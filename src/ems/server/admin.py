"""``/ems/admin``: operators list and delete queues and topics, known only by their hashes.

The admin API exists only when ``EMS_ADMIN_TOKEN`` is set, and answers only that token. It
never shows an id: the server does not have them, only their SHA-256.
"""

from __future__ import annotations

import binascii
from typing import Any, Final

from ems.core.encoding import rfc3339
from ems.core.errors import QueueNotFound, TopicNotFound
from ems.core.limits import Bound, parse_cursor
from ems.server import problems
from ems.server.access import AdminToken
from ems.server.http import Receive, Scope, Send, query, respond, respond_json
from ems.storage.base import Store

PAGE: Final = Bound("limit", 1, 1000, "items")
LIST_PARAMS: Final = frozenset({"after", "limit"})


class AdminHandlers:
    def __init__(self, store: Store, token: AdminToken) -> None:
        self.store = store
        self.token = token
        # (collection, number of path parts) -> {method: handler}
        self.routes: dict[tuple[str, int], dict[str, problems.Handler]] = {
            ("queues", 1): {"GET": self.queues},
            ("queues", 2): {"DELETE": self.delete_queue},
            ("topics", 1): {"GET": self.topics},
            ("topics", 2): {"DELETE": self.delete_topic},
        }

    def templates(self) -> list[tuple[str, str]]:
        """Every (method, route template) served here (when enabled)."""
        return [(m, _template(name, size)) for (name, size), ms in self.routes.items() for m in ms]

    def route(self, method: str, parts: list[str]) -> tuple[problems.Handler, str]:
        if not self.token.enabled:
            raise problems.RouteNotFound("No such resource (the admin API is not enabled).")
        methods = self.routes.get((parts[0], len(parts))) if parts else None
        if methods is None:
            raise problems.RouteNotFound(
                "The admin API has /ems/admin/queues and /ems/admin/topics."
            )
        label = _template(parts[0], len(parts))
        return problems.pick(methods, method, "this admin resource"), label

    async def queues(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
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

    async def topics(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
        self.token.check(scope)
        after, limit = _page(query(scope, LIST_PARAMS))
        found = await self.store.list_topics(after=after, limit=limit)
        items = [
            {
                "id_hash": t.id_hash.hex(),
                "created_at": rfc3339(t.created_at_ms),
                "owner": t.owner,
                "subscriptions": t.subscriptions,
            }
            for t in found
        ]
        next_page = str(found[-1].key) if len(found) == limit else None
        return await respond_json(send, 200, {"topics": items, "next": next_page})

    async def delete_queue(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> int:
        self.token.check(scope)
        query(scope, frozenset())
        await self.store.delete_queue(_hash(parts[1], QueueNotFound))
        return await respond(send, 204)

    async def delete_topic(
        self, scope: Scope, receive: Receive, send: Send, parts: list[str]
    ) -> int:
        self.token.check(scope)
        query(scope, frozenset())
        await self.store.delete_topic(_hash(parts[1], TopicNotFound))
        return await respond(send, 204)


def _template(collection: str, size: int) -> str:
    return f"/ems/admin/{collection}" + ("/{hash}" if size == 2 else "")


def _page(params: dict[str, str]) -> tuple[int, int]:
    after = parse_cursor(params["after"], "page") if "after" in params else 0
    limit = PAGE.parse(params["limit"]) if "limit" in params else 100
    return after, limit


def _hash(text: str, not_found: type[QueueNotFound] | type[TopicNotFound]) -> bytes:
    try:
        value = bytes.fromhex(text)
    except (ValueError, binascii.Error):
        raise not_found() from None
    if len(value) != 32:
        raise not_found()
    return value
