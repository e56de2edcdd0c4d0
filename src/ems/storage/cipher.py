"""Optional encryption of message bodies at rest (``EMS_ENCRYPTION_KEY``).

Bodies are sealed with AES-256-GCM under the first configured key; every stored body records the
id of the key that sealed it, so keys can be rotated by configuring ``new,old``: new messages use
the new key, waiting ones stay readable with the old. Bodies stored before encryption was turned
on stay readable (their key id is null). Attributes and correlation ids are not encrypted: they
are routing metadata (filters and indexes need them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ems.core.errors import StorageUnavailable

_NONCE = 12


class EncryptionKeyError(ValueError):
    """A configured encryption key is unusable; the message says which and why."""


def key_id(key: bytes) -> int:
    """A short, stable, non-secret name for a key (its hash prefix)."""
    return int.from_bytes(hashlib.sha256(b"ems/at-rest/" + key).digest()[:4])


def parse_keys(text: str) -> list[bytes]:
    """``EMS_ENCRYPTION_KEY``: comma-separated URL-safe base64 keys of 32 bytes, newest first."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            key = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise EncryptionKeyError(
                "each EMS_ENCRYPTION_KEY entry must be 32 bytes in URL-safe base64 (what "
                "GET /ems/crypto/random-key returns)"
            )
        keys.append(key)
    return keys


class BodyCipher:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise EncryptionKeyError("at least one key is needed")
        self._current = key_id(keys[0])
        self._keys = {key_id(key): AESGCM(key) for key in keys}
        self._sealer = self._keys[self._current]

    def seal(self, body: bytes) -> tuple[bytes, int]:
        nonce = os.urandom(_NONCE)
        return nonce + self._sealer.encrypt(nonce, body, None), self._current

    def open(self, stored: bytes, cipher: int) -> bytes:
        aead = self._keys.get(cipher)
        if aead is None:
            raise StorageUnavailable(
                "A stored message is encrypted with a key this server is not configured with; "
                "the operator must add that key to EMS_ENCRYPTION_KEY."
            )
        try:
            return aead.decrypt(stored[:_NONCE], stored[_NONCE:], None)
        except InvalidTag:
            raise StorageUnavailable("A stored message failed its integrity check.") from None


def open_body(cipher: BodyCipher | None, stored: bytes, key: int | None) -> bytes:
    if key is None:
        return stored
    if cipher is None:
        raise StorageUnavailable(
            "Stored messages are encrypted, but this server has no EMS_ENCRYPTION_KEY."
        )
    return cipher.open(stored, key)
