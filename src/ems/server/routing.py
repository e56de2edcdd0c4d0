"""Routes declared once, as templates, and matched on the split path.

A :class:`RouteTable` maps route templates (``/ems/queue/{queue_id}/message``) to a handler per
method. Matching runs no regular expression: the app splits the path on ``/`` once per request,
and a table looks up the literal segments in one dict per shape of template (which positions are
literal), the shapes tried in the order their first route was declared, so an earlier route wins
where two could match. A handler gets the template's named segments (``path["queue_id"]``),
never a position, and metrics and logs get the template, never an id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ems.asgi import Handler, PathArgs
from ems.server.problems import pick


@dataclass(frozen=True, slots=True)
class Route:
    template: str
    methods: Mapping[str, Handler]
    # how a 405 names what was asked for ("this resource", "a message's receipt handle")
    what: str = "this resource"


@dataclass(frozen=True, slots=True)
class _Shape:
    key_of: Callable[[Sequence[str]], Any]
    routes: dict[Any, tuple[Route, tuple[tuple[str, int], ...]]]


class RouteTable:
    def __init__(self, prefix: str, routes: Iterable[Route]) -> None:
        """``routes``' templates all start with ``prefix``; :meth:`match` gets the path's
        segments after it."""
        self.prefix = prefix
        self.routes = list(routes)
        skip = len(_segments(prefix)) if prefix.strip("/") else 0
        shapes: dict[tuple[int, tuple[int, ...]], _Shape] = {}
        for route in self.routes:
            if not route.template.startswith(prefix):
                raise ValueError(f"{route.template} is not under {prefix}")
            segments = _segments(route.template)[skip:]
            literal = tuple(i for i, s in enumerate(segments) if not s.startswith("{"))
            names = tuple((s[1:-1], i) for i, s in enumerate(segments) if s.startswith("{"))
            shape = shapes.setdefault((len(segments), literal), _Shape(_key_of(literal), {}))
            key = shape.key_of(segments)
            if key in shape.routes:
                raise ValueError(f"{route.template} is declared twice")
            shape.routes[key] = (route, names)
        self._by_length: dict[int, list[_Shape]] = {}
        for (length, _), shape in shapes.items():
            self._by_length.setdefault(length, []).append(shape)

    def match(self, method: str, parts: Sequence[str]) -> tuple[Handler, str, PathArgs] | None:
        """The handler for ``method`` on ``parts`` (after the prefix), the route's template and
        its named segments; None when no route has this path (a 405 when the route has no
        handler for the method)."""
        found = self.find(parts)
        if found is None:
            return None
        route, args = found
        return pick(route.methods, method, route.what), route.template, args

    def find(self, parts: Sequence[str]) -> tuple[Route, PathArgs] | None:
        """The route of ``parts`` and its named segments, whatever the method."""
        for shape in self._by_length.get(len(parts), ()):
            found = shape.routes.get(shape.key_of(parts))
            if found is not None:
                route, names = found
                return route, {name: parts[i] for name, i in names}
        return None

    def templates(self) -> list[tuple[str, str]]:
        """Every (method, route template) served here (HEAD is implied by GET)."""
        return [(m, r.template) for r in self.routes for m in r.methods if m != "HEAD"]


def _segments(path: str) -> list[str]:
    """As the app splits a request's path: ``/`` is ``[""]``."""
    return path.strip("/").split("/")


def _key_of(literal: tuple[int, ...]) -> Callable[[Sequence[str]], Any]:
    """The lookup key of a path of this shape: its literal segments, read in C (itemgetter)."""
    if not literal:
        return lambda parts: ()
    return itemgetter(*literal)
