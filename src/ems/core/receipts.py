"""Receipt handles: unforgeable, opaque proof that a queue delivered a message on a receive.

A handle carries (queue key, message seq, receive count). The receive count makes every receive
issue a new handle, so the store can tell the latest holder from one whose lease ran out and was
taken over (a stale handle).

Construction (a synthetic-IV scheme built only from HMAC-SHA256, keyed per installation):
``tag = HMAC(k_mac, payload)[:16]``, ``ciphertext = payload XOR HMAC(k_enc, tag)``,
``handle = base64url(tag || ciphertext)``. The tag authenticates the payload (handles cannot be
forged or altered) and, used as the IV of the keystream, hides it (handles reveal no internal
counters). Equal payloads give equal handles, which is harmless: a payload is one receive.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct

from ems.core.errors import InvalidReceiptHandle
from ems.core.models import Receipt

_VERSION = 1
_LAYOUT = struct.Struct(">BQQI")
_TAG_BYTES = 16
_RAW_BYTES = _TAG_BYTES + _LAYOUT.size
_ENCODED_LENGTH = len(base64.urlsafe_b64encode(bytes(_RAW_BYTES)).rstrip(b"="))


def _xor(data: bytes, stream: bytes) -> bytes:
    n = len(data)
    return (int.from_bytes(data) ^ int.from_bytes(stream[:n])).to_bytes(n)


class ReceiptSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("receipt key must be at least 32 bytes")
        self._mac_key = hmac.digest(key, b"ems/receipt/mac", "sha256")
        self._enc_key = hmac.digest(key, b"ems/receipt/enc", "sha256")

    def _tag(self, payload: bytes) -> bytes:
        return hmac.digest(self._mac_key, payload, "sha256")[:_TAG_BYTES]

    def issue(self, queue_key: int, seq: int, receive_count: int) -> str:
        payload = _LAYOUT.pack(_VERSION, queue_key, seq, receive_count)
        tag = self._tag(payload)
        hidden = _xor(payload, hmac.digest(self._enc_key, tag, "sha256"))
        return base64.urlsafe_b64encode(tag + hidden).rstrip(b"=").decode()

    def verify(self, handle: str) -> Receipt:
        """Open a handle; raise InvalidReceiptHandle unless this server issued it."""
        if len(handle) != _ENCODED_LENGTH:
            raise InvalidReceiptHandle(
                "This is not a receipt handle issued by EMS (wrong length); use the "
                "receipt_handle of a received message."
            )
        try:
            raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
        except (binascii.Error, ValueError):
            raise InvalidReceiptHandle(
                "This is not a receipt handle issued by EMS: it is not URL-safe base64."
            ) from None
        tag, hidden = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
        payload = _xor(hidden, hmac.digest(self._enc_key, tag, "sha256"))
        if len(raw) != _RAW_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidReceiptHandle("This receipt handle was not issued by this server.")
        version, queue_key, seq, receive_count = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise InvalidReceiptHandle("This receipt handle has an unknown version.")
        return Receipt(queue_key=queue_key, seq=seq, receive_count=receive_count)
