"""AWS Signature Version 4: verifying the ``Authorization`` header of a request.

The server rebuilds the canonical request from what it received, derives the signing key from
the secret it holds for the access key, and compares signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, quote, unquote

from ems.sqs.errors import SqsError, error

ALGORITHM: Final = "AWS4-HMAC-SHA256"
SERVICE: Final = "sqs"
MAX_SKEW_SECONDS: Final = 15 * 60
_AUTHORIZATION: Final = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request\s*,"
    r"\s*SignedHeaders=([a-z0-9;\-]+)\s*,\s*Signature=([0-9a-f]{64})\s*"
)


@dataclass(frozen=True, slots=True)
class Signed:
    """What an Authorization header claims: checked against a secret by :func:`verify`."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: bytes | None) -> Signed:
    if value is None:
        raise error("MissingAuthenticationToken", "Request is missing Authentication Token.")
    match = _AUTHORIZATION.fullmatch(value.decode("latin-1"))
    if match is None:
        raise error(
            "IncompleteSignature", "The Authorization header is not an AWS4-HMAC-SHA256 signature."
        )
    key, date, region, service, headers, signature = match.groups()
    return Signed(key, date, region, service, headers.split(";"), signature)


def verify(
    signed: Signed,
    secret: str,
    *,
    method: str,
    path: bytes,
    query: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    now: datetime | None = None,
    service: str = SERVICE,
) -> None:
    """Raise SignatureDoesNotMatch (or RequestExpired) unless the request is signed with
    ``secret`` for ``service`` (``sqs``, or ``sns`` for :mod:`ems.sns`)."""
    received: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        received.setdefault(raw_name.decode("latin-1").lower(), []).append(
            raw_value.decode("latin-1")
        )
    if signed.service != service:
        raise error(
            "SignatureDoesNotMatch",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    if "host" not in signed.signed_headers:
        raise _mismatch()
    amz_date = (received.get("x-amz-date") or [""])[0]
    _check_date(amz_date, signed.date, now or datetime.now(UTC))
    canonical_headers = ""
    for name in signed.signed_headers:
        if name not in received:
            raise _mismatch()
        canonical_headers += f"{name}:{','.join(' '.join(v.split()) for v in received[name])}\n"
    payload_hash = _payload_hash(body, received.get("x-amz-content-sha256"))
    canonical = "\n".join(
        [
            method,
            quote(unquote(path.decode("latin-1")), safe="/~"),
            _canonical_query(query),
            canonical_headers,
            ";".join(signed.signed_headers),
            payload_hash,
        ]
    )
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret, signed.date, signed.region, signed.service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.signature):
        raise _mismatch()


def _payload_hash(body: bytes, claimed: list[str] | None) -> str:
    """The hash of the body received: what the signature must cover.

    A client's ``x-amz-content-sha256`` is only a claim: it must equal the real hash, else the
    signature (made over the claim) says nothing of this body. ``UNSIGNED-PAYLOAD`` is refused:
    SQS clients sign their bodies, and an unsigned one could be replaced in a replay.
    """
    actual = hashlib.sha256(body).hexdigest()
    if not claimed:
        return actual
    if claimed[0] == "UNSIGNED-PAYLOAD":
        raise error(
            "SignatureDoesNotMatch",
            "EMS accepts only signed payloads: x-amz-content-sha256 cannot be UNSIGNED-PAYLOAD.",
        )
    if len(claimed) > 1 or claimed[0].lower() != actual:
        raise error(
            "SignatureDoesNotMatch",
            "The x-amz-content-sha256 header does not match the SHA-256 of the request body.",
        )
    return actual


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_query(query: bytes) -> str:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _check_date(amz_date: str, scope_date: str, now: datetime) -> None:
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise error("IncompleteSignature", "The request needs an X-Amz-Date header.") from None
    if amz_date[:8] != scope_date:
        raise _mismatch()
    if abs((now - when).total_seconds()) > MAX_SKEW_SECONDS:
        raise error("RequestExpired", "The request's X-Amz-Date is more than 15 minutes away.")


def _mismatch() -> SqsError:
    return error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method.",
    )
