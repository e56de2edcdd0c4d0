"""Receipt handles: unforgeable, opaque proof that a queue delivered a message on a receive.

A handle carries (queue key, message seq, receive count). The receive count makes every receive
issue a new handle, so the store can tell the latest holder from one whose lease ran out and was
taken over (a stale handle).

Construction (a synthetic-IV scheme built only from HMAC-SHA256, keyed per installation):
``tag = HMAC(k_mac, payload)[:16]``, ``ciphertext = payload XOR HMAC(k_enc, tag)``,
``handle = base64url(tag || ciphertext)``, except that a leading ``-`` is written as ``.``:
command lines (the AWS CLI's argparse, ``ems``) read an argument that starts with ``-`` as an
option, so one handle in 64 could not be passed to ``aws sqs delete-message --receipt-handle``.
Both spellings are accepted. The tag authenticates the payload (handles cannot be
forged or altered) and, used as the IV of the keystream, hides it (handles reveal no internal
counters). Equal payloads give equal handles, which is harmless: a payload is one receive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from ems.core.errors import EmsError, InvalidReceiptHandle, MessageNotFound, StaleReceiptHandle
from ems.core.models import Outcome, Receipt

_VERSION = 1
_LAYOUT = struct.Struct(">BQQI")
_TAG_BYTES = 16
_RAW_BYTES = _TAG_BYTES + _LAYOUT.size
_ENCODED_LENGTH = len(base64.urlsafe_b64encode(bytes(_RAW_BYTES)).rstrip(b"="))


def _xor(data: bytes, stream: bytes) -> bytes:
    n = len(data)
    return (int.from_bytes(data) ^ int.from_bytes(stream[:n])).to_bytes(n)


class KeyedSha256:
    """HMAC-SHA256 under one fixed key (RFC 2104), the same digests as ``hmac.digest``.

    The key's inner and outer hash states are computed once and copied per message: every
    receive and every delete takes two of these, and ``hmac.digest`` sets the key up again on
    each call, which cost four times as much as the copies (docs/performance.md, "Hot path,
    issue 23").
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # the block size: a longer key is hashed first (RFC 2104, 2)
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class ReceiptSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("receipt key must be at least 32 bytes")
        self._mac = KeyedSha256(hmac.digest(key, b"ems/receipt/mac", "sha256"))
        self._enc = KeyedSha256(hmac.digest(key, b"ems/receipt/enc", "sha256"))

    def _tag(self, payload: bytes) -> bytes:
        return self._mac.digest(payload)[:_TAG_BYTES]

    def issue(self, queue_key: int, seq: int, receive_count: int) -> str:
        payload = _LAYOUT.pack(_VERSION, queue_key, seq, receive_count)
        tag = self._tag(payload)
        hidden = _xor(payload, self._enc.digest(tag))
        handle = base64.urlsafe_b64encode(tag + hidden).rstrip(b"=").decode()
        return "." + handle[1:] if handle[0] == "-" else handle

    def verify(self, handle: str) -> Receipt:
        """Open a handle; raise InvalidReceiptHandle unless this server issued it."""
        if len(handle) != _ENCODED_LENGTH:
            raise InvalidReceiptHandle(
                "This is not a receipt handle issued by EMS (wrong length); use the "
                "receipt_handle of a received message."
            )
        if handle[0] == ".":
            handle = "-" + handle[1:]
        try:
            raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
        except (binascii.Error, ValueError):
            raise InvalidReceiptHandle(
                "This is not a receipt handle issued by EMS: it is not URL-safe base64."
            ) from None
        tag, hidden = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        payload = _xor(hidden, self._enc.digest(tag))
        if len(raw) != _RAW_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidReceiptHandle("This receipt handle was not issued by this server.")
        version, queue_key, seq, receive_count = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise InvalidReceiptHandle("This receipt handle has an unknown version.")
        return Receipt(queue_key=queue_key, seq=seq, receive_count=receive_count)


def outcome_error(outcome: Outcome, *, deleting: bool) -> EmsError | None:
    """What a store's outcome for one receipt handle means to the client (None: success)."""
    if outcome is Outcome.DONE:
        return None
    if outcome is Outcome.STALE:
        return StaleReceiptHandle()
    if outcome is Outcome.FOREIGN:
        return InvalidReceiptHandle("This receipt handle was issued by another queue.")
    # deleting what is already gone succeeds: a retried delete must not fail
    return None if deleting else MessageNotFound()
