"""Queue ids are capabilities: whoever knows one may use the queue.

An id is 144 random bits, URL-safe, after an optional installation prefix (``s2_``) that lets a
proxy route ids to the shard that made them (docs/deploy.md). The server stores only its SHA-256
(ids carry full entropy, so a fast hash is enough to make a leaked database useless for guessing
them) and looks queues up by that hash, so no comparison ever runs on the secret itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ID_BYTES = 18
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_SEAL_CONTEXT = b"ems/seal/v1"


def new_id(prefix: str = "", random_bytes: int = ID_BYTES) -> str:
    token = secrets.token_urlsafe(random_bytes)
    while token.startswith("-"):
        # command lines (ems, argparse, most CLIs) would read such an id as an option
        token = secrets.token_urlsafe(random_bytes)
    return f"{prefix}_{token}" if prefix else token


def looks_like_id(value: str) -> bool:
    return _ID_PATTERN.fullmatch(value) is not None


def id_hash(capability: str) -> bytes:
    return hashlib.sha256(capability.encode()).digest()


def _seal_key(owner_id: str) -> bytes:
    return hashlib.sha256(_SEAL_CONTEXT + owner_id.encode()).digest()


def seal(owner_id: str, secret: str) -> bytes:
    """Encrypt ``secret`` so that only a holder of ``owner_id`` can read it back."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_seal_key(owner_id)).encrypt(nonce, secret.encode(), _SEAL_CONTEXT)


def unseal(owner_id: str, sealed: bytes) -> str | None:
    """The secret sealed under ``owner_id``, or None if it was sealed under another id."""
    try:
        plain = AESGCM(_seal_key(owner_id)).decrypt(sealed[:12], sealed[12:], _SEAL_CONTEXT)
    except (InvalidTag, ValueError):
        return None
    return plain.decode()
