"""HTTP handlers for ``/ems/crypto``: random keys, encryption, decryption."""

from __future__ import annotations

from typing import Final

from ems.asgi import PathArgs, Receive, Scope, Send, header, query, read_body, respond, respond_json
from ems.core import crypto
from ems.server.routing import Route

# a plaintext as large as the largest message; a token of it is about 4/3 larger
MAX_PLAINTEXT: Final = 1_048_576
MAX_TOKEN: Final = 1_500_000
TEXT: Final = [(b"content-type", b"text/plain; charset=utf-8")]
NO_PARAMS: Final = frozenset[str]()
# what a client gets back must not be cached by a shared cache on the way
NO_STORE: Final = [(b"cache-control", b"no-store")]


class CryptoHandlers:
    def __init__(self) -> None:
        self.routes = [
            Route(template, methods, template)
            for template, methods in [
                ("/ems/crypto/random-key", {"GET": self.random_key}),
                ("/ems/crypto/encryption", {"POST": self.encryption}),
                ("/ems/crypto/decryption", {"POST": self.decryption}),
            ]
        ]

    async def random_key(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        key = crypto.new_key()
        accept = header(scope, b"accept") or b""
        if b"application/json" in accept:
            return await respond_json(send, 200, {"key": key}, NO_STORE)
        return await respond(send, 200, key.encode(), TEXT + NO_STORE)

    async def encryption(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        key = header(scope, b"crypto-key")
        plaintext = await read_body(scope, receive, MAX_PLAINTEXT)
        return await respond(send, 200, crypto.encrypt(key, plaintext), TEXT + NO_STORE)

    async def decryption(self, scope: Scope, receive: Receive, send: Send, _: PathArgs) -> int:
        query(scope, NO_PARAMS)
        key = header(scope, b"crypto-key")
        token = await read_body(scope, receive, MAX_TOKEN)
        plaintext = crypto.decrypt(key, token)
        return await respond(
            send, 200, plaintext, [(b"content-type", b"application/octet-stream"), *NO_STORE]
        )


def route_not_found(parts: list[str]) -> str:
    """What a 404 under ``/ems/crypto`` says."""
    return (
        "The crypto service has /ems/crypto/random-key, /ems/crypto/encryption and "
        "/ems/crypto/decryption."
    )
