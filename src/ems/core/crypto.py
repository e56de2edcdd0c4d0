"""The crypto service: Fernet keys, encryption and decryption, for clients that want EMS to do it.

Fernet is an authenticated, documented format that libraries in most languages read, so a
consumer can decrypt offline. Keys and plaintext pass through memory only: nothing here logs or
stores them. Sending a key to a server is a trade-off (see docs/security.md): the Python SDK
encrypts locally instead.
"""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet, InvalidToken

from ems.core.errors import InvalidRequest


class InvalidKey(InvalidRequest):
    """The Crypto-Key header is missing or is not a Fernet key."""

    slug = "invalid-key"
    title = "Invalid encryption key"


class DecryptionFailed(InvalidRequest):
    """The token was encrypted with another key, was altered, or is not a Fernet token."""

    slug = "decryption-failed"
    title = "Decryption failed"


def new_key() -> str:
    """32 random bytes, URL-safe base64: a Fernet key, never starting with "-" (a command line
    such as ``ems crypto encrypt --key KEY`` would read it as an option)."""
    key = Fernet.generate_key().decode()
    while key.startswith("-"):
        key = Fernet.generate_key().decode()
    return key


def _fernet(key: bytes | None) -> Fernet:
    if not key:
        raise InvalidKey(
            "Give the key in the Crypto-Key header (get one from GET /ems/crypto/random-key).",
            parameter="Crypto-Key",
        )
    try:
        return Fernet(key.strip())
    except (ValueError, binascii.Error):
        raise InvalidKey(
            "The Crypto-Key header is not a Fernet key: 32 bytes in URL-safe base64 (44 "
            "characters), as GET /ems/crypto/random-key returns.",
            parameter="Crypto-Key",
        ) from None


def encrypt(key: bytes | None, plaintext: bytes) -> bytes:
    """A Fernet token: ASCII, safe to send as a message body."""
    return _fernet(key).encrypt(plaintext)


def decrypt(key: bytes | None, token: bytes) -> bytes:
    fernet = _fernet(key)
    try:
        return fernet.decrypt(token.strip())
    except InvalidToken:
        raise DecryptionFailed(
            "This token cannot be decrypted with this key: it was encrypted with another key, "
            "altered, or is not a Fernet token."
        ) from None
