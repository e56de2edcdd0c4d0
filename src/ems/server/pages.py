"""The browser pages: the playground, the API reference, their assets, and the OpenAPI document.

Every file is served by EMS itself from the installed package (EMS runs on networks with no
internet, so nothing loads from a CDN), with an ETag, and the pages with a strict Content
Security Policy: they only ever talk to this server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

from ems.asgi import Handler, PathArgs, Receive, Scope, Send, header, query, respond
from ems.core.errors import quoted
from ems.server import problems
from ems.server.openapi import document_bytes
from ems.server.routing import Route, RouteTable

NO_PARAMS: Final = frozenset[str]()
CONTENT_TYPES: Final = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}
PAGE_HEADERS: Final = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
# the browser revalidates every time (a cheap 304), so an upgraded server is never half-cached
CACHE: Final = [(b"cache-control", b"no-cache")]


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: bytes
    etag: bytes


def _load_assets() -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for entry in resources.files("ems.server").joinpath("web").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix not in CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
        assets[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    return assets


OPENAPI: Final = "/ems/openapi.json"


class PageHandlers:
    """``/``, ``/ems/playground``, ``/ems/docs``, ``/ems/static/{name}``, ``/ems/openapi.json``.

    With the pages turned off (``--no-playground``) only the OpenAPI document is served.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._assets = _load_assets() if enabled else {}
        pages = [
            (OPENAPI, self.openapi),
            ("/", self.playground),
            ("/ems/playground", self.playground),
            ("/ems/docs", self.docs),
            ("/ems/static/{name}", self.asset),
        ]
        self.routes = [Route(template, {"GET": handler}, template) for template, handler in pages]
        self.table = RouteTable("", self.routes)

    def route(self, method: str, parts: list[str]) -> tuple[Handler, str, PathArgs] | None:
        """The handler of a page path, or None when ``parts`` is not a page."""
        found = self.table.find(parts)
        if found is None:
            return None
        route, path = found
        if not self.enabled and route.template != OPENAPI:
            raise problems.RouteNotFound("The pages are turned off on this server.")
        return problems.pick(route.methods, method, route.what), route.template, path

    async def openapi(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        headers = [(b"content-type", b"application/json"), (b"access-control-allow-origin", b"*")]
        return await respond(send, 200, document_bytes(), headers)

    async def playground(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        return await self._serve(scope, send, "playground.html")

    async def docs(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        return await self._serve(scope, send, "docs.html")

    async def asset(self, scope: Scope, receive: Receive, send: Send, path: PathArgs) -> int:
        name = path["name"]
        if name not in self._assets or name.endswith(".html"):
            raise problems.RouteNotFound(f"No such file: {quoted(name, 64)}.")
        return await self._serve(scope, send, name)

    async def _serve(self, scope: Scope, send: Send, name: str) -> int:
        return await serve(scope, send, self._assets[name], page=name.endswith(".html"))


def load_assets(names: frozenset[str] | None = None) -> dict[str, Asset]:
    """The files of ``web/`` (those named, or all), ready to serve."""
    assets = _load_assets()
    return assets if names is None else {n: a for n, a in assets.items() if n in names}


async def serve(scope: Scope, send: Send, asset: Asset, *, page: bool) -> int:
    """Answer with a file (a page with the strict CSP), or 304 if the browser has it."""
    # the query string is ignored on purpose: pages keep their state in the fragment
    headers = [(b"etag", asset.etag), *CACHE]
    if page:
        headers += PAGE_HEADERS
    if header(scope, b"if-none-match") == asset.etag:
        return await respond(send, 304, b"", headers)
    return await respond(send, 200, asset.body, [(b"content-type", asset.content_type), *headers])
