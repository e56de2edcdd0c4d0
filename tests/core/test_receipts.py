"""Receipt handles: HMAC-SHA256 with precomputed key states, the same handles as before."""

from __future__ import annotations

import base64
import hmac
import os
import struct

import pytest

from ems.core.errors import InvalidReceiptHandle
from ems.core.receipts import KeyedSha256, ReceiptSigner


@pytest.mark.parametrize("key_bytes", [0, 1, 32, 63, 64, 65, 200])
def test_keyed_sha256_is_hmac_sha256(key_bytes: int) -> None:
    key = os.urandom(key_bytes)
    keyed = KeyedSha256(key)
    for size in (0, 1, 16, 25, 55, 56, 64, 1000):
        message = os.urandom(size)
        assert keyed.digest(message) == hmac.digest(key, message, "sha256")
    # reusable: each message starts from the key's states, not from the last message
    assert keyed.digest(b"x") == keyed.digest(b"x") == hmac.digest(key, b"x", "sha256")


def _issued_by_hmac_digest(key: bytes, queue_key: int, seq: int, receive_count: int) -> str:
    """A handle as the signer made it with hmac.digest (EMS up to issue 23): handles given to
    clients before an upgrade must still open after it."""
    mac_key = hmac.digest(key, b"ems/receipt/mac", "sha256")
    enc_key = hmac.digest(key, b"ems/receipt/enc", "sha256")
    payload = struct.pack(">BQQI", 1, queue_key, seq, receive_count)
    tag = hmac.digest(mac_key, payload, "sha256")[:16]
    stream = hmac.digest(enc_key, tag, "sha256")[: len(payload)]
    hidden = (int.from_bytes(payload) ^ int.from_bytes(stream)).to_bytes(len(payload))
    return base64.urlsafe_b64encode(tag + hidden).rstrip(b"=").decode()


def test_handles_are_those_hmac_digest_made() -> None:
    key = os.urandom(32)
    signer = ReceiptSigner(key)
    for queue_key, seq, count in [(1, 1, 1), (7, 2**40, 3), (2**63 - 1, 2**64 - 1, 2**32 - 1)]:
        old = _issued_by_hmac_digest(key, queue_key, seq, count)
        assert signer.issue(queue_key, seq, count) == "." + old[1:] if old[0] == "-" else old
        receipt = signer.verify(old)
        assert (receipt.queue_key, receipt.seq, receipt.receive_count) == (queue_key, seq, count)


def test_another_key_and_a_changed_byte_are_refused() -> None:
    handle = ReceiptSigner(os.urandom(32)).issue(3, 4, 1)
    with pytest.raises(InvalidReceiptHandle):
        ReceiptSigner(os.urandom(32)).verify(handle)
    signer = ReceiptSigner(os.urandom(32))
    handle = signer.issue(3, 4, 1)
    changed = handle[:10] + ("A" if handle[10] != "A" else "B") + handle[11:]
    with pytest.raises(InvalidReceiptHandle):
        signer.verify(changed)


def test_no_handle_starts_with_a_dash() -> None:
    """A command line reads ``-...`` as an option: ``aws sqs delete-message --receipt-handle -x``
    fails in argparse. Such handles are written with a leading ``.``, and both spellings open."""
    signer = ReceiptSigner(os.urandom(32))
    dashed = 0
    for seq in range(5_000):
        handle = signer.issue(1, seq, 1)
        assert not handle.startswith("-")
        if handle.startswith("."):
            dashed += 1
            assert signer.verify(handle).seq == seq
            assert signer.verify("-" + handle[1:]).seq == seq
    assert dashed > 0  # about 1 in 64 handles: 5,000 tries miss it with chance below 1e-34
