"""Who may use the SQS API, and which account each access key is.

``EMS_SQS_CREDENTIALS="KEY_ID:SECRET,..."``: each access key is an account of its own (a 12-digit
id derived from the key id), and requests must be SigV4-signed with its secret. With no
credentials, a server bound to loopback (and without API keys) is in development mode: any
signature is accepted and every key is the one account ``000000000000``, as with the emulators.
Otherwise the SQS API is off.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Final

from ems.sqs.errors import error
from ems.sqs.sigv4 import Signed

DEV_ACCOUNT: Final = "000000000000"


class CredentialsError(ValueError):
    """EMS_SQS_CREDENTIALS cannot be parsed; the message never shows a secret."""


def parse_credentials(text: str | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    for number, raw in enumerate((text or "").split(","), 1):
        item = raw.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise CredentialsError(f"EMS_SQS_CREDENTIALS: entry {number} is not KEY_ID:SECRET")
        if key_id.strip() in keys:
            raise CredentialsError(f"EMS_SQS_CREDENTIALS: key {key_id.strip()!r} is given twice")
        keys[key_id.strip()] = secret.strip()
    return keys


def account_of(access_key: str) -> str:
    digest = hashlib.sha256(b"ems/sqs/account/" + access_key.encode()).digest()
    return f"{int.from_bytes(digest[:8]) % 10**12:012d}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Accounts:
    credentials: dict[str, str]
    # development mode: no credentials, loopback only; any signature passes
    open: bool

    @classmethod
    def configure(cls, credentials: str | None, host: str, *, api_keys: bool) -> Accounts | None:
        """The SQS API's access rules, or None when the API is off."""
        keys = parse_credentials(credentials)
        if keys:
            return cls(keys, open=False)
        if is_loopback(host) and not api_keys:
            return cls({}, open=True)
        return None

    def secret_of(self, signed: Signed) -> str | None:
        """The secret to check the signature with; None in development mode (no check)."""
        if self.open:
            return None
        secret = self.credentials.get(signed.access_key)
        if secret is None:
            raise error(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        return secret

    def account(self, signed: Signed) -> str:
        return DEV_ACCOUNT if self.open else account_of(signed.access_key)
