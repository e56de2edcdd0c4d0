"""Cross-origin requests (CORS, WHATWG Fetch): letting web pages on other origins call EMS.

Off unless the operator names origins (``--cors-origin``, ``EMS_CORS_ORIGINS``; ``*`` for any).
Then, on the API routes (``/ems/queue``, ``/ems/topic``, ``/ems/crypto``, ``/ems/problems``):

- a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from an allowed origin is
  answered ``204`` with the methods and request headers EMS accepts; from any other origin it
  is refused ``403`` with a problem that says how to allow it;
- an actual request from an allowed origin gets ``Access-Control-Allow-Origin`` and
  ``Access-Control-Expose-Headers`` (``Location``, ``Retry-After`` and the headers EMS answers
  with), added to whatever answer it gets, errors included, so the page can read them.

Never ``Access-Control-Allow-Credentials``: ids are the capabilities and EMS sets no cookies,
so a page sends what it holds explicitly. The admin routes, metrics, probes, the SQS endpoint
and the pages are never CORS-enabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ems.asgi import Message, Scope, Send, header, respond
from ems.server.problems import OriginNotAllowed

SECTIONS: Final = frozenset({"queue", "topic", "crypto", "problems"})
METHODS: Final = b"GET, HEAD, POST, PATCH, DELETE"
ALLOWED_HEADERS: Final = frozenset(
    {"content-type", "authorization", "idempotency-key", "last-event-id"}
)
ALLOWED_PREFIX: Final = "ems-"
EXPOSED: Final = b"Location, Retry-After, Allow, WWW-Authenticate, ETag"
MAX_AGE: Final = b"600"


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        allowed = {o.rstrip("/").lower() for o in origins}
        self.any = "*" in allowed
        self.origins = frozenset(allowed - {"*"})

    @property
    def enabled(self) -> bool:
        return self.any or bool(self.origins)

    @staticmethod
    def applies(parts: list[str]) -> bool:
        return len(parts) >= 2 and parts[0] == "ems" and parts[1] in SECTIONS

    def allowed(self, origin: bytes) -> bytes | None:
        """What Access-Control-Allow-Origin says to ``origin``, or None if it is not allowed."""
        if self.any:
            return b"*"
        text = origin.decode("latin-1").lower()
        return origin if text in self.origins else None

    async def preflight(self, scope: Scope, send: Send, origin: bytes) -> int:
        allow = self.allowed(origin)
        if allow is None:
            raise OriginNotAllowed(
                "This server does not accept requests from pages on this origin; its operator "
                "can allow it with --cors-origin."
            )
        asked = header(scope, b"access-control-request-headers") or b""
        names = [n.strip().lower() for n in asked.decode("latin-1").split(",") if n.strip()]
        granted = [n for n in names if n in ALLOWED_HEADERS or n.startswith(ALLOWED_PREFIX)]
        headers = [
            (b"access-control-allow-origin", allow),
            (b"access-control-allow-methods", METHODS),
            (b"access-control-allow-headers", ", ".join(sorted(ALLOWED_HEADERS | set(granted)))
             .encode()),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
        ]  # fmt: skip
        return await respond(send, 204, b"", headers)

    def wrap(self, send: Send, origin: bytes) -> Send:
        """``send`` with the CORS headers added to the answer's start (if ``origin`` is allowed)."""
        allow = self.allowed(origin)
        if allow is None:
            return send
        extra = [
            (b"access-control-allow-origin", allow),
            (b"access-control-expose-headers", EXPOSED),
            (b"vary", b"Origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", ())) + extra
            await send(message)

        return send_with_cors
