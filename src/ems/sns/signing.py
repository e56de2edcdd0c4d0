"""SNS message signatures, with EMS's own key and certificate.

SNS signs each message it delivers: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA, over
a string made of some of the message's fields, each as its name, a newline, its value and a
newline, in this order (fields absent from the message are left out):

- ``Notification``: Message, MessageId, Subject, Timestamp, TopicArn, Type;
- ``SubscriptionConfirmation`` and ``UnsubscribeConfirmation``: Message, MessageId,
  SubscribeURL, Timestamp, Token, TopicArn, Type.

The key is RSA-2048 with a self-signed certificate, made once and kept in the database
(:meth:`~ems.storage.base.Store.server_value`): the same after a restart and on every node of a
PostgreSQL deployment, so a message signed yesterday, or by another node, still verifies. The
certificate is served at ``SigningCertURL`` (``/ems/sns/SimpleNotificationService-<id>.pem``).
RSA PKCS#1 v1.5 signatures are deterministic: a retry sends the very same signature.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Mapping
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from ems.storage.base import Store

NOTIFICATION_FIELDS: Final = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS: Final = (
    "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
)  # fmt: skip
VALUE_NAME: Final = "sns-signing-key"
CERTIFICATE_YEARS: Final = 20
_HASHES: Final = {"1": hashes.SHA1, "2": hashes.SHA256}


def string_to_sign(fields: Mapping[str, str]) -> bytes:
    names = NOTIFICATION_FIELDS if fields.get("Type") == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{n}\n{fields[n]}\n" for n in names if fields.get(n) is not None).encode()


class Signer:
    def __init__(self, pem: bytes) -> None:
        key_pem, _, cert_pem = pem.partition(b"\n\n")
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self._key = key
        self.certificate_pem = cert_pem
        digest = hashlib.sha256(cert_pem).hexdigest()[:32]
        self.certificate_file = f"SimpleNotificationService-{digest}.pem"

    @classmethod
    async def load(cls, store: Store) -> Signer:
        """The deployment's signer: made by the first node to start, then read by all."""
        return cls(await store.server_value(VALUE_NAME, new_key_and_certificate()))

    def sign(self, fields: Mapping[str, str], version: str) -> str:
        """The base64 ``Signature`` of a message with these fields."""
        algorithm = _HASHES[version]()
        signature = self._key.sign(string_to_sign(fields), padding.PKCS1v15(), algorithm)
        return base64.b64encode(signature).decode()


def new_key_and_certificate() -> bytes:
    """A new RSA-2048 key and its self-signed certificate, PEM, separated by an empty line."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EMS"),
            x509.NameAttribute(NameOID.COMMON_NAME, "EMS SNS message signing"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem.strip() + b"\n\n" + certificate.public_bytes(serialization.Encoding.PEM)
