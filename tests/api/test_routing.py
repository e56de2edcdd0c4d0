"""Route tables (server/routing.py): templates declared once, matched on the split path."""

from __future__ import annotations

import pytest

from ems.asgi import PathArgs, Receive, Scope, Send
from ems.server.problems import MethodNotAllowed
from ems.server.routing import Route, RouteTable


async def one(scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
    return 1


async def two(scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
    return 2


TABLE = RouteTable(
    "/ems/topic",
    [
        Route("/ems/topic", {"POST": one}, "/ems/topic"),
        Route("/ems/topic/confirm/{token}", {"GET": one}, "a confirmation link"),
        Route("/ems/topic/{id}/message", {"POST": two}),
        Route("/ems/topic/{id}/subscription/{subscription_id}", {"GET": one, "DELETE": two}),
    ],
)


def test_segments_are_passed_by_name() -> None:
    found = TABLE.match("DELETE", ["t1", "subscription", "s1"])
    assert found == (two, "/ems/topic/{id}/subscription/{subscription_id}",
                     {"id": "t1", "subscription_id": "s1"})  # fmt: skip
    assert TABLE.match("POST", []) == (one, "/ems/topic", {})


def test_the_route_declared_first_wins_where_two_could_match() -> None:
    # "confirm" could be a topic id, and "message" a token: the confirmation link is declared first
    assert TABLE.match("GET", ["confirm", "message"]) == (
        one, "/ems/topic/confirm/{token}", {"token": "message"}
    )  # fmt: skip
    assert TABLE.match("POST", ["t1", "message"]) == (two, "/ems/topic/{id}/message", {"id": "t1"})


def test_unknown_paths_are_none_and_unknown_methods_a_405_that_lists_the_allowed() -> None:
    assert TABLE.match("GET", ["t1", "nothing"]) is None
    assert TABLE.match("GET", ["t1", "message", "extra", "more"]) is None
    with pytest.raises(MethodNotAllowed) as refused:
        TABLE.match("PUT", ["t1", "subscription", "s1"])
    assert refused.value.allowed == ("GET", "HEAD", "DELETE")
    with pytest.raises(MethodNotAllowed, match="a confirmation link"):
        TABLE.match("POST", ["confirm", "x"])


def test_templates_list_every_method_but_the_implied_head() -> None:
    assert ("GET", "/ems/topic/confirm/{token}") in TABLE.templates()
    assert not any(method == "HEAD" for method, _ in TABLE.templates())


def test_a_route_declared_twice_or_outside_the_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        RouteTable("/ems/x", [Route("/ems/x/{a}", {"GET": one}), Route("/ems/x/{b}", {"GET": one})])
    with pytest.raises(ValueError, match="not under"):
        RouteTable("/ems/x", [Route("/ems/y", {"GET": one})])
