"""Local encryption with Fernet: keys and plaintext never leave the process.

Tokens are the same Fernet tokens the server's crypto service makes, so either side may encrypt
and the other decrypt.
"""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet, InvalidToken

from ems.client.errors import DecryptionFailed, InvalidKey


def random_key() -> str:
    """A new Fernet key: 32 random bytes, URL-safe base64, never starting with "-" (a command
    line would read such a key as an option)."""
    key = Fernet.generate_key().decode()
    while key.startswith("-"):
        key = Fernet.generate_key().decode()
    return key


def _fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidKey() from None


def encrypt(key: str | bytes, data: bytes | str) -> str:
    """The Fernet token of ``data``: ASCII, safe to send as a message body."""
    plain = data.encode() if isinstance(data, str) else data
    return _fernet(key).encrypt(plain).decode()


def decrypt(key: str | bytes, token: str | bytes) -> bytes:
    """The bytes ``token`` was made from; DecryptionFailed for a wrong key or a forged token."""
    try:
        return _fernet(key).decrypt(token)
    except InvalidToken:
        raise DecryptionFailed() from None
