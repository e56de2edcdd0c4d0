"""Signatures verify with the Standard Webhooks reference library, and the other way round."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ems.core.topics import new_signing_secret
from ems.delivery import signing


def test_the_reference_library_verifies_our_signatures() -> None:
    secret = new_signing_secret()
    body = b'{"seat": 14, "class": "CS 61A"}'
    headers = signing.signature_headers(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", body)
    assert Webhook(secret).verify(body, headers) == {"seat": 14, "class": "CS 61A"}


def test_we_verify_the_reference_librarys_signatures() -> None:
    secret = new_signing_secret()
    body = b"raw bytes \x00\xff"
    now = int(time.time())
    reference = Webhook(secret).sign(
        "msg_1", __import__("datetime").datetime.fromtimestamp(now), body.decode("latin-1")
    )
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(now), "Webhook-Signature": reference}
    # the reference signs text; bytes that are latin-1 round-trip to the same signature
    signing.verify(secret, headers, body.decode("latin-1").encode())


def test_tampering_replay_and_wrong_secrets_are_refused() -> None:
    secret = new_signing_secret()
    body = b"payload"
    headers = signing.signature_headers(secret, "msg_x", body)
    signing.verify(secret, headers, body)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, headers, b"payload!")
    with pytest.raises(signing.InvalidSignature):
        signing.verify(new_signing_secret(), headers, body)
    old = signing.signature_headers(secret, "msg_x", body, now=time.time() - 3600)
    with pytest.raises(signing.InvalidSignature, match="tolerance"):
        signing.verify(secret, old, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)


def test_secrets_have_the_standard_form() -> None:
    secret = new_signing_secret()
    assert secret.startswith("whsec_")
    assert len(__import__("base64").b64decode(secret[6:])) == 32
