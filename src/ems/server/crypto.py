"""HTTP handlers for ``/ems/crypto``: random keys, encryption, decryption."""

from __future__ import annotations

from typing import Final

from ems.asgi import Receive, Scope, Send, header, query, read_body, respond, respond_json
from ems.core import crypto
from ems.server import problems

# a plaintext as large as the largest message; a token of it is about 4/3 larger
MAX_PLAINTEXT: Final = 1_048_576
MAX_TOKEN: Final = 1_500_000
TEXT: Final = [(b"content-type", b"text/plain; charset=utf-8")]
NO_PARAMS: Final = frozenset[str]()
# what a client gets back must not be cached by a shared cache on the way
NO_STORE: Final = [(b"cache-control", b"no-store")]


class CryptoHandlers:
    def __init__(self) -> None:
        self.routes: dict[str, dict[str, problems.Handler]] = {
            "random-key": {"GET": self.random_key},
            "encryption": {"POST": self.encryption},
            "decryption": {"POST": self.decryption},
        }

    def templates(self) -> list[tuple[str, str]]:
        """Every (method, route template) served here: what the API description must cover."""
        return [(m, f"/ems/crypto/{name}") for name, ms in self.routes.items() for m in ms]

    def route(self, method: str, parts: list[str]) -> tuple[problems.Handler, str]:
        """The handler for ``/ems/crypto/...`` (``parts`` starts after ``crypto``)."""
        routes = self.routes
        if len(parts) != 1 or parts[0] not in routes:
            raise problems.RouteNotFound(
                "The crypto service has /ems/crypto/random-key, /ems/crypto/encryption and "
                "/ems/crypto/decryption."
            )
        label = f"/ems/crypto/{parts[0]}"
        return problems.pick(routes[parts[0]], method, label), label

    async def random_key(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
        query(scope, NO_PARAMS)
        key = crypto.new_key()
        accept = header(scope, b"accept") or b""
        if b"application/json" in accept:
            return await respond_json(send, 200, {"key": key}, NO_STORE)
        return await respond(send, 200, key.encode(), TEXT + NO_STORE)

    async def encryption(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
        query(scope, NO_PARAMS)
        key = header(scope, b"crypto-key")
        plaintext = await read_body(scope, receive, MAX_PLAINTEXT)
        return await respond(send, 200, crypto.encrypt(key, plaintext), TEXT + NO_STORE)

    async def decryption(self, scope: Scope, receive: Receive, send: Send, _: list[str]) -> int:
        query(scope, NO_PARAMS)
        key = header(scope, b"crypto-key")
        token = await read_body(scope, receive, MAX_TOKEN)
        plaintext = crypto.decrypt(key, token)
        return await respond(
            send, 200, plaintext, [(b"content-type", b"application/octet-stream"), *NO_STORE]
        )
